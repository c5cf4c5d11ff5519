"""A stock ``kserve.ModelServer`` serving a samdops booster: no gate, no door, no record.

The bench's comparison point: the same booster and the same Open Inference Protocol request,
answered by KServe as it comes. Run in the serving environment:
``python bench/_stock_server.py MODEL_JSON PORT``.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import numpy as np


def main() -> None:
    model_path, port = sys.argv[1], int(sys.argv[2])
    sys.argv = sys.argv[:1]
    import kserve
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

    from samdops.training.models import import_xgboost

    document = json.loads(Path(model_path).read_bytes())
    features = list(document["features"])
    booster = import_xgboost().Booster()
    booster.load_model(bytearray(document["booster"].encode("utf-8")))
    booster.set_param({"nthread": 1})

    class Stock(kserve.Model):  # type: ignore[misc]
        def load(self) -> bool:
            self.ready = True
            return True

        async def predict(
            self, payload: InferRequest, headers: object = None, response_headers: object = None
        ) -> InferResponse:
            by_name = {i.name: i.data for i in payload.inputs}
            x = np.column_stack([np.asarray(by_name[f], dtype="float64") for f in features])
            risk = booster.inplace_predict(x, missing=np.nan)
            return InferResponse(
                response_id=payload.id or "",
                model_name=self.name,
                infer_outputs=[InferOutput("risk", [len(risk)], "FP64", data=risk.tolist())],
            )

    logging.getLogger("kserve.trace").setLevel(logging.WARNING)
    stock = Stock("stock")
    stock.load()
    kserve.ModelServer(
        http_port=port, enable_grpc=False, workers=1, enable_latency_logging=False
    ).start([stock])


if __name__ == "__main__":
    main()
