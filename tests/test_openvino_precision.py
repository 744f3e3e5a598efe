"""OpenVINO deployments compile with INFERENCE_PRECISION_HINT f32 and record what the compiled model reports.
OpenVINO is an extra CI does not install: a fake `openvino` module stands in, recording what it is asked."""

import sys
import types

import numpy as np
import pytest

from prunebench.measure import deployed


class FakeCompiled:
    def __init__(self, config, reported_precision):
        self.config, self.reported = config, reported_precision

    def get_property(self, name):
        return {"INFERENCE_NUM_THREADS": self.config["INFERENCE_NUM_THREADS"], "NUM_STREAMS": 1,
                "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": self.reported}[name]

    def create_infer_request(self):
        return types.SimpleNamespace(infer=lambda inputs: inputs)


class FakeType:
    def __init__(self, name):
        self.name = name

    def get_type_name(self):
        return self.name


@pytest.fixture
def fake_openvino(monkeypatch):
    """openvino, openvino.properties and openvino.properties.hint with the names prunebench uses; the property
    keys are their OpenVINO string names, as the real module's are."""
    asked = {}
    ov = types.ModuleType("openvino")
    ov.__version__ = "fake"
    ov.Type = types.SimpleNamespace(f32=FakeType("f32"), bf16=FakeType("bf16"))

    class Core:
        def read_model(self, path):
            asked["xml"] = path
            return "model"

        def compile_model(self, model, device, config):
            asked.update(device=device, config=config)
            return FakeCompiled(config, asked.get("reported", config.get("INFERENCE_PRECISION_HINT")))

        def get_property(self, device, name):
            return ["FP32", "BF16", "INT8"]

    ov.Core = Core
    props = types.ModuleType("openvino.properties")
    props.inference_num_threads, props.num_streams = "INFERENCE_NUM_THREADS", "NUM_STREAMS"
    hint = types.ModuleType("openvino.properties.hint")
    hint.performance_mode, hint.inference_precision = "PERFORMANCE_HINT", "INFERENCE_PRECISION_HINT"
    hint.PerformanceMode = types.SimpleNamespace(LATENCY="LATENCY")
    ov.properties, props.hint = props, hint
    ov.__path__ = []  # a package, as the real one
    modules = {"openvino": ov, "openvino.properties": props, "openvino.properties.hint": hint}
    for name in ("openvino.tools", "openvino.tools.ovc", "openvino.tools.ovc.telemetry_stub"):  # prunebench's no-telemetry
        modules[name] = types.ModuleType(name)
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(deployed, "_inputs", lambda raw, imgsz: [np.zeros((1, 3, imgsz, imgsz), np.float32)])
    return asked


def test_every_openvino_deployment_compiles_with_the_f32_precision_hint(fake_openvino, tmp_path):
    (tmp_path / "model.xml").write_text("<net/>")
    deployment = deployed.openvino_deployment(tmp_path, [], 64, threads=1)
    config = fake_openvino["config"]
    assert config["INFERENCE_PRECISION_HINT"].get_type_name() == "f32"
    assert config["INFERENCE_NUM_THREADS"] == 1 and config["NUM_STREAMS"] == 1
    assert config["PERFORMANCE_HINT"] == "LATENCY" and fake_openvino["device"] == "CPU"
    assert deployment.info["inference_precision_requested"] == "f32"
    assert deployment.info["inference_precision"] == "f32"


def test_the_record_says_what_the_compiled_model_reports_not_what_was_asked(fake_openvino, tmp_path):
    """A plugin that ignored the hint would show in the record."""
    fake_openvino["reported"] = FakeType("bf16")
    (tmp_path / "model.xml").write_text("<net/>")
    deployment = deployed.openvino_deployment(tmp_path, [], 64, threads=2)
    assert deployment.info["inference_precision_requested"] == "f32"
    assert deployment.info["inference_precision"] == "bf16"
