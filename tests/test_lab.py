"""`make lab`: JupyterLab starts on localhost, lists the five notebooks, runs a cell in the project's kernel, stops.

Run: pytest tests/test_lab.py   (about 30 s; slow)
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "tina-lab-test"
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(port: int, path: str, data: dict | None = None) -> dict:
    """GET (or POST `data` to) the server's REST API."""
    method = "POST" if data is not None else "GET"
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", method=method,
                                     data=json.dumps(data).encode() if data is not None else None,
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def run_cell(port: int, kernel_id: str, code: str) -> str:
    """Execute `code` through the kernel's websocket channel and return what it printed."""
    from tornado import ioloop, websocket

    async def execute():
        url = f"ws://127.0.0.1:{port}/api/kernels/{kernel_id}/channels?token={TOKEN}"
        conn = await websocket.websocket_connect(url)
        msg_id = uuid.uuid4().hex
        await conn.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "test", "session": uuid.uuid4().hex,
                       "version": "5.3"}, "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False}}))
        printed = []
        while True:
            msg = json.loads(await conn.read_message())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "stream":
                printed.append(msg["content"]["text"])
            if msg["msg_type"] == "error":
                raise AssertionError(msg["content"]["evalue"])
            if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
                conn.close()
                return "".join(printed)

    return ioloop.IOLoop.current().run_sync(execute, timeout=120)


def test_make_lab_serves_the_notebooks_with_the_project_kernel(tmp_path):
    port = free_port()
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(["make", "-s", "lab", f"LAB_PORT={port}",
                               f"LAB_ARGS=--no-browser --ServerApp.ip=127.0.0.1 --IdentityProvider.token={TOKEN}"],
                              cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                              env={**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")})
    try:
        for _ in range(120):
            try:
                api(port, "status")
                break
            except OSError:
                assert server.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
                time.sleep(0.5)
        names = {item["name"] for item in api(port, "contents")["content"]}
        assert {"01_data.ipynb", "02_train_lora_grpo.ipynb", "03_evaluate.ipynb", "04_cost_analysis.ipynb",
                "05_phase_transition.ipynb"} <= names
        spec = api(port, "kernelspecs")["kernelspecs"]["python3"]["spec"]
        assert spec["display_name"] == "Python 3 (tina-notebooks)"
        kernel = api(port, "kernels", {"name": "python3"})
        printed = run_cell(port, kernel["id"], "import sys, tina_utils; print(sys.prefix)")
        assert Path(printed.strip()).resolve() == Path(sys.prefix).resolve()  # the project's environment
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        log.close()
