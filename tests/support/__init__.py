"""Helpers the tests share: child-process control, files in the real Hub schemas, the vLLM API snapshot."""
