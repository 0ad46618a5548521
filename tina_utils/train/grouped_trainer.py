"""TRL 1.16's `GRPOTrainer` with Tina's micro-batches (each holds whole prompt groups) and, on request, its rollouts.

Tina's TRL 0.15 trainer generated per micro-batch, and with a per-device batch of G completions every
micro-batch was one prompt's group. TRL 1.16 generates a whole generation batch and shuffles its rows before
splitting it into micro-batches, so a per-micro-batch normaliser (`bnpo`, Tina's Dr.GRPO loss) spans G random
completions of several prompts. Keeping the generation order (groups are contiguous there) restores Tina's
micro-batches; for the per-sequence `grpo` loss it changes nothing but the order of the accumulated gradients.
Switched by the recipe key `group_microbatches`.

Tina's vLLM 0.7.2 tokenised the templated prompt text with special tokens, so on R1's tokenizer (`add_bos_token`,
and a template that starts with BOS) every rollout was sampled after two BOS tokens while the loss scored the
prompt with one. `rollout_double_bos` reproduces that: the generator (vLLM or transformers) gets one more BOS in
front of the prompt ids, and the prompt the loss scores is unchanged. Both switches: docs/fidelity.md.
"""

from trl import GRPOTrainer
from trl.trainer.utils import split_pixel_values_by_grid, split_tensor_dict, unsplit_pixel_values_by_grid


class GroupedGRPOTrainer(GRPOTrainer):
    """GRPOTrainer whose micro-batches are consecutive rows of the generation batch (whole groups) by default."""

    def __init__(self, *args, group_microbatches: bool = True, rollout_double_bos: bool = False, **kwargs):
        self.group_microbatches = group_microbatches
        self.rollout_double_bos = rollout_double_bos
        super().__init__(*args, **kwargs)
        if rollout_double_bos and self.processing_class.bos_token_id is None:
            raise ValueError("rollout_double_bos needs a tokenizer with a BOS token")

    def _prepare_inputs(self, generation_batch):
        """TRL 1.16's `_prepare_inputs` without the row shuffle before the split into micro-batches."""
        if not self.model.training or not self.group_microbatches:
            return super()._prepare_inputs(generation_batch)
        per_device, groups = self.args.per_device_train_batch_size, self.num_generations
        if per_device % groups:
            raise ValueError(f"group_microbatches needs a per-device batch that is a multiple of G = {groups}, "
                             f"got {per_device}; set per_device_batch_size or group_microbatches: false")
        generate_every = self.args.steps_per_generation * self.num_iterations
        if self._step % generate_every == 0 or self._buffered_inputs is None:
            batch = split_pixel_values_by_grid(self._generate_and_score_completions(generation_batch))
            parts = split_tensor_dict(batch, self.args.steps_per_generation)
            self._buffered_inputs = [unsplit_pixel_values_by_grid(part) for part in parts]
        return self._buffered_inputs[self._step % self.args.steps_per_generation]

    def _generate_single_turn(self, prompt_ids, *args, **kwargs):
        """TRL's rollout, after one more BOS in front of every prompt when `rollout_double_bos` is on."""
        if self.rollout_double_bos:
            prompt_ids = [[self.processing_class.bos_token_id, *ids] for ids in prompt_ids]
        return super()._generate_single_turn(prompt_ids, *args, **kwargs)
