"""An MLServer inference runtime that serves an ONNX file with onnxruntime, for the endpoint tests.

MLServer ships no onnxruntime runtime of its own, and the tests must serve the same generated
models the other frameworks run, so this small one is loaded by the real server (named by
`implementation` in a model's model-settings.json). It fills the model's v2 metadata from the
ONNX file's declared inputs and outputs, which is what the endpoint client reads to make its
inputs. `parameters.extra.delay_ms` makes every answer that much later: an endpoint that got
slower, for the A/B tests. `parameters.extra.fail_after` makes every request after that many
answer an error, and `parameters.extra.exit_after` makes the request after that many kill the
server's process: an endpoint that breaks down, or goes down, in the middle of a load.
"""

from __future__ import annotations

import asyncio
import os
import signal

import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.errors import MLServerError
from mlserver.types import InferenceRequest, InferenceResponse, MetadataTensor
from mlserver.utils import get_model_uri

# onnxruntime's element types → the Open Inference Protocol's datatypes.
_V2_DATATYPES = {
    "tensor(float)": "FP32",
    "tensor(float16)": "FP16",
    "tensor(double)": "FP64",
    "tensor(int8)": "INT8",
    "tensor(uint8)": "UINT8",
    "tensor(int16)": "INT16",
    "tensor(int32)": "INT32",
    "tensor(int64)": "INT64",
    "tensor(bool)": "BOOL",
}


class OnnxRuntimeModel(MLModel):
    async def load(self) -> bool:
        path = await get_model_uri(self.settings)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        extra = (self.settings.parameters.extra if self.settings.parameters else None) or {}
        self._delay_s = float(extra.get("delay_ms", 0)) / 1000.0
        self._fail_after = extra.get("fail_after")
        self._exit_after = extra.get("exit_after")
        self._answered = 0
        self.inputs = [_metadata(meta) for meta in self._session.get_inputs()]
        self.outputs = [_metadata(meta) for meta in self._session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        if self._exit_after is not None and self._answered >= self._exit_after:
            os.kill(os.getpid(), signal.SIGKILL)
        if self._fail_after is not None and self._answered >= self._fail_after:
            # MLServer's own error type, so the answer carries the message (any other one is a bare 500).
            raise MLServerError(f"broken after {self._fail_after} requests, as the test asked", status_code=500)
        self._answered += 1
        feeds = {request_input.name: NumpyCodec.decode_input(request_input) for request_input in payload.inputs}
        if self._delay_s:
            await asyncio.sleep(self._delay_s)
        results = self._session.run(None, feeds)
        outputs = [
            NumpyCodec.encode_output(meta.name, value)
            for meta, value in zip(self._session.get_outputs(), results, strict=True)
        ]
        return InferenceResponse(model_name=self.name, model_version=self.version, outputs=outputs)


def _metadata(meta) -> MetadataTensor:
    shape = [dim if isinstance(dim, int) and dim > 0 else -1 for dim in meta.shape]
    return MetadataTensor(name=meta.name, datatype=_V2_DATATYPES[meta.type], shape=shape)
