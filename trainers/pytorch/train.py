#!/usr/bin/python3
"""PyTorch reference trainer for trainset (docs/trainer-contract.md, contract trainset-trainer-v1).

Usage: /usr/bin/python3 trainers/pytorch/train.py <jobDir>

An MLP over the spec's hashed feature vector: Linear(dimension, hidden) -> ReLU -> Dropout -> Linear(hidden,
classes), trained with Adam on the job directory's CSR features (numpy alone reads them). CUDA when
CUDA_VISIBLE_DEVICES names a device and torch sees one, the CPU otherwise. One checkpoint per epoch, resume from
job.json's resumeFrom, ONNX export (input `features`, output `probabilities`, softmax in the graph).

Exit codes: 0 done; 2 bad input (unknown contract, missing or inconsistent files, bad hyperparameters);
1 anything else. Nothing here prints record content.
"""

import inspect
import json
import math
import os
import sys
import time
import traceback

CONTRACT_VERSION = "trainset-trainer-v1"
ONNX_INPUT = "features"
ONNX_OUTPUT = "probabilities"
ONNX_OPSET = 13
EXIT_BAD_INPUT = 2
CHECKPOINT_FORMAT = "trainset-pytorch-mlp-v1"

# Defaults of the hyperparameters this trainer reads from job.json's `hyperparameters` (other keys are ignored).
# stepReportSeconds: a progress line with `step` within an epoch at most this often (0: after every batch), so a long
# epoch never looks hung to trainset (trainer.progressTimeoutSeconds).
DEFAULTS = {"hidden": 128, "learningRate": 0.003, "batchSize": 64, "weightDecay": 0.0, "dropout": 0.1, "stepReportSeconds": 60}


class BadInput(Exception):
    """The job's inputs are wrong; retrying cannot help (exit 2)."""


def emit(message):
    """Print one contract JSON line and flush it."""
    print(json.dumps(message, separators=(",", ":")), flush=True)


def log(text):
    """Free text on stdout (not JSON, so trainset ignores it)."""
    print(text, flush=True)


# ---------------------------------------------------------------- job.json


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _relative_path(value, where):
    if not isinstance(value, str) or not value:
        raise BadInput(f"job.json: {where} must be a non-empty path")
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or ".." in parts:
        raise BadInput(f"job.json: {where} must be a path inside the job directory (got {value!r})")
    return value


def read_job(path="job.json"):
    """Read and check the parts of job.json this trainer uses."""
    if not os.path.isfile(path):
        raise BadInput("job.json is missing from the job directory")
    try:
        with open(path, "r", encoding="utf-8") as f:
            job = json.load(f)
    except ValueError as err:
        raise BadInput(f"job.json is not valid JSON ({err})") from None
    if not isinstance(job, dict):
        raise BadInput("job.json must hold a JSON object")
    contract = job.get("contract")
    if contract != CONTRACT_VERSION:
        raise BadInput(f"job.json is for contract {json.dumps(contract)}; this trainer speaks {CONTRACT_VERSION}")

    classes = job.get("classes")
    if not isinstance(classes, list) or len(classes) < 2 or not all(isinstance(c, str) for c in classes):
        raise BadInput("job.json: classes must be a list of at least two class names")
    features = job.get("features")
    if not isinstance(features, dict) or not _is_int(features.get("dimension")) or features["dimension"] < 1:
        raise BadInput("job.json: features.dimension must be a positive integer")
    if not _is_int(job.get("epochs")) or job["epochs"] < 1:
        raise BadInput("job.json: epochs must be an integer >= 1")
    if not _is_int(job.get("seed")):
        raise BadInput("job.json: seed must be an integer")
    splits = job.get("splits")
    if not isinstance(splits, dict):
        raise BadInput("job.json: splits must be an object")
    for name in ("train", "validation"):
        s = splits.get(name)
        if not isinstance(s, dict) or not _is_int(s.get("rows")) or s["rows"] < 0:
            raise BadInput(f"job.json: splits.{name}.rows must be a non-negative integer")
        files = s.get("features")
        if not isinstance(files, dict):
            raise BadInput(f"job.json: splits.{name}.features must be an object")
        for key in ("indptr", "indices", "values", "labels"):
            _relative_path(files.get(key), f"splits.{name}.features.{key}")
    output = job.get("output")
    if not isinstance(output, dict):
        raise BadInput("job.json: output must be an object")
    for key in ("model", "metrics", "checkpoints"):
        _relative_path(output.get(key), f"output.{key}")
    resume = job.get("resumeFrom")
    if resume is not None:
        if not isinstance(resume, dict) or not _is_int(resume.get("epoch")) or resume["epoch"] < 1:
            raise BadInput("job.json: resumeFrom must be null or { epoch >= 1, path }")
        _relative_path(resume.get("path"), "resumeFrom.path")
    hp = job.get("hyperparameters", {})
    if not isinstance(hp, dict):
        raise BadInput("job.json: hyperparameters must be an object")
    return job


def read_hyperparameters(raw):
    """This trainer's hyperparameters, defaults filled in; a wrong type or an out-of-range value is BadInput."""
    hp = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in raw and raw[key] is not None:
            hp[key] = raw[key]

    def bad(key, what):
        raise BadInput(f"hyperparameters.{key} must be {what} (got {json.dumps(hp[key])})")

    if not _is_int(hp["hidden"]) or not 1 <= hp["hidden"] <= 65536:
        bad("hidden", "an integer in 1..65536")
    if not _is_int(hp["batchSize"]) or not 1 <= hp["batchSize"] <= 1_000_000:
        bad("batchSize", "an integer in 1..1000000")
    if not _is_number(hp["learningRate"]) or not 0 < hp["learningRate"] <= 10:
        bad("learningRate", "a number in (0, 10]")
    if not _is_number(hp["weightDecay"]) or hp["weightDecay"] < 0:
        bad("weightDecay", "a number >= 0")
    if not _is_number(hp["dropout"]) or not 0 <= hp["dropout"] < 1:
        bad("dropout", "a number in [0, 1)")
    if not _is_number(hp["stepReportSeconds"]) or hp["stepReportSeconds"] < 0:
        bad("stepReportSeconds", "a number >= 0")
    hp["learningRate"] = float(hp["learningRate"])
    hp["weightDecay"] = float(hp["weightDecay"])
    hp["dropout"] = float(hp["dropout"])
    return hp


# ---------------------------------------------------------------- features


def _load_npy(np, rel, kinds, what):
    if not os.path.isfile(rel):
        raise BadInput(f"{rel} is missing from the job directory")
    try:
        a = np.load(rel, allow_pickle=False)
    except Exception as err:  # numpy raises several types for a broken header
        raise BadInput(f"{rel} is not a readable .npy file ({type(err).__name__})") from None
    if a.ndim != 1 or a.dtype.kind not in kinds:
        raise BadInput(f"{rel} must be a 1-D array of {what} (got {a.dtype} with shape {a.shape})")
    return a


class Split:
    """One split's CSR arrays, checked against job.json."""

    def __init__(self, np, job, name):
        s = job["splits"][name]
        files = s["features"]
        rows = s["rows"]
        dim = job["features"]["dimension"]
        n_classes = len(job["classes"])
        indptr = _load_npy(np, files["indptr"], "iu", "int64").astype(np.int64)
        indices = _load_npy(np, files["indices"], "iu", "int32").astype(np.int64)
        values = _load_npy(np, files["values"], "f", "float32").astype(np.float32)
        labels = _load_npy(np, files["labels"], "iu", "int64").astype(np.int64)
        if indptr.shape[0] != rows + 1:
            raise BadInput(f"{files['indptr']} holds {indptr.shape[0]} values, expected rows + 1 = {rows + 1}")
        if labels.shape[0] != rows:
            raise BadInput(f"{files['labels']} holds {labels.shape[0]} values, expected {rows} rows")
        if indices.shape[0] != values.shape[0]:
            raise BadInput(f"{files['indices']} and {files['values']} differ in length")
        if indptr[0] != 0 or indptr[-1] != indices.shape[0] or (rows > 0 and np.any(np.diff(indptr) < 0)):
            raise BadInput(f"{files['indptr']} must start at 0, never decrease and end at {indices.shape[0]}")
        if indices.shape[0] and (indices.min() < 0 or indices.max() >= dim):
            raise BadInput(f"{files['indices']} has a feature index outside 0..{dim - 1}")
        if rows and (labels.min() < 0 or labels.max() >= n_classes):
            raise BadInput(f"{files['labels']} has a class index outside 0..{n_classes - 1}")
        if not np.all(np.isfinite(values)):
            raise BadInput(f"{files['values']} holds a value that is not finite")
        self.np = np
        self.rows = rows
        self.dim = dim
        self.indptr = indptr
        self.indices = indices
        self.values = values
        self.labels = labels

    def dense(self, rows):
        """Dense float32 [len(rows), dim] of the given row numbers (a numpy int array)."""
        np = self.np
        starts = self.indptr[rows]
        lens = self.indptr[rows + 1] - starts
        out = np.zeros((rows.shape[0], self.dim), dtype=np.float32)
        total = int(lens.sum())
        if total:
            # Position of every stored value of the chosen rows, without a Python loop over rows.
            offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(total, dtype=np.int64)
            out[np.repeat(np.arange(rows.shape[0]), lens), self.indices[offsets]] = self.values[offsets]
        return out


# ---------------------------------------------------------------- model and checkpoints


def build_model(torch, dim, hidden, classes, dropout):
    nn = torch.nn
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, classes))


def torch_load(torch, path, map_location):
    kwargs = {"map_location": map_location}
    if "weights_only" in inspect.signature(torch.load).parameters:
        # The checkpoint holds tensors, ints, strings, lists and dicts only (no floats: torch 1.13's weights-only
        # unpickler refuses them), so the safe loader of every version reads it.
        kwargs["weights_only"] = True
    return torch.load(path, **kwargs)


def save_checkpoint(torch, path, state):
    """torch.save to a temporary name in the same folder, fsync, then rename: complete when it appears."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        torch.save(state, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def export_onnx(torch, model, dim, path):
    """Export softmax(model) in eval mode, on the CPU, as ONNX opset 13 with a dynamic batch axis."""

    class WithSoftmax(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, features):
            return torch.softmax(self.inner(features), dim=1)

    exported = WithSoftmax(model).to("cpu").eval()
    tmp = f"{path}.tmp-{os.getpid()}"
    kwargs = {
        "input_names": [ONNX_INPUT],
        "output_names": [ONNX_OUTPUT],
        "dynamic_axes": {ONNX_INPUT: {0: "batch"}, ONNX_OUTPUT: {0: "batch"}},
        "opset_version": ONNX_OPSET,
        "do_constant_folding": True,
    }
    # PyTorch >= 2.5 has a dynamo exporter (the default from 2.9) that needs the onnx and onnxscript packages; the
    # TorchScript exporter needs neither and behaves as in 1.13.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        kwargs["dynamo"] = False
    with torch.no_grad():
        torch.onnx.export(exported, torch.zeros(2, dim, dtype=torch.float32), tmp, **kwargs)
    os.replace(tmp, path)


def write_json_atomic(path, value):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def finite_or_none(x):
    return x if x is not None and math.isfinite(x) else None


# ---------------------------------------------------------------- training


def accuracy(torch, model, split, device, batch):
    if split.rows == 0:
        return None
    np = split.np
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, split.rows, batch):
            rows = np.arange(start, min(start + batch, split.rows), dtype=np.int64)
            x = torch.from_numpy(split.dense(rows)).to(device)
            y = torch.from_numpy(split.labels[rows]).to(device)
            correct += int((model(x).argmax(dim=1) == y).sum().item())
    return correct / split.rows


def main(argv):
    if len(argv) != 2:
        raise BadInput("usage: train.py <jobDir>")
    job_dir = argv[1]
    if not os.path.isdir(job_dir):
        raise BadInput(f"job directory {job_dir} does not exist")
    os.chdir(job_dir)
    job = read_job()
    hp = read_hyperparameters(job.get("hyperparameters", {}))

    import numpy as np

    train = Split(np, job, "train")
    val = Split(np, job, "validation")
    if train.rows == 0:
        raise BadInput("the train split holds no rows")

    resume = job.get("resumeFrom")
    if resume is not None and not os.path.isfile(resume["path"]):
        raise BadInput(f"resumeFrom names {resume['path']}, which is missing")

    import torch  # after the cheap input checks: a bad job fails fast

    dim = job["features"]["dimension"]
    n_classes = len(job["classes"])
    epochs = job["epochs"]
    seed = job["seed"]

    use_cuda = os.environ.get("CUDA_VISIBLE_DEVICES", "").strip() != "" and torch.cuda.is_available()
    device = torch.device("cuda" if use_cuda else "cpu")
    if use_cuda:
        log(f"device: cuda ({torch.cuda.get_device_name(0)}), torch {torch.__version__}")
    else:
        # Deterministic kernels cost nothing noticeable for this model on the CPU; on CUDA they would need
        # CUBLAS_WORKSPACE_CONFIG, so GPU runs are only seeded.
        torch.use_deterministic_algorithms(True)
        log(f"device: cpu, torch {torch.__version__}")

    torch.manual_seed(seed)
    model = build_model(torch, dim, hp["hidden"], n_classes, hp["dropout"]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=hp["learningRate"], weight_decay=hp["weightDecay"])
    shuffler = torch.Generator()
    shuffler.manual_seed(seed)

    start_epoch = 1
    last_loss = None
    if resume is not None:
        path = resume["path"]
        try:
            # On the CPU: load_state_dict moves the tensors to the model's device (and keeps Adam's step counts where
            # each PyTorch version wants them).
            state = torch_load(torch, path, "cpu")
        except Exception as err:
            raise BadInput(f"cannot read the checkpoint {path} ({type(err).__name__})") from None
        if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
            raise BadInput(f"{path} is not a checkpoint of this trainer ({CHECKPOINT_FORMAT})")
        shape = (dim, hp["hidden"], n_classes)
        if tuple(state.get("shape", ())) != shape:
            raise BadInput(f"{path} is for a model of shape {state.get('shape')}, this job's is {list(shape)}")
        if state.get("epoch") != resume["epoch"]:
            raise BadInput(f"cannot resume: {path} holds epoch {state.get('epoch')}, job.json says {resume['epoch']}")
        if state["epoch"] > epochs:
            raise BadInput(f"cannot resume: {path} holds epoch {state['epoch']}, beyond the job's {epochs} epochs")
        model.load_state_dict(state["model"])
        # The checkpoint keeps only the optimizer's tensors; its settings are this job's own hyperparameters.
        optimizer.load_state_dict({"state": state["optimizerState"], "param_groups": optimizer.state_dict()["param_groups"]})
        torch.set_rng_state(state["torchRng"].cpu())
        if use_cuda and state.get("cudaRng") is not None:
            torch.cuda.set_rng_state(state["cudaRng"].cpu())
        shuffler.set_state(state["shuffleRng"].cpu())
        start_epoch = state["epoch"] + 1
        last_loss = json.loads(state["meta"]).get("loss")
        log(f"resuming after epoch {state['epoch']}")

    loss_fn = torch.nn.CrossEntropyLoss()
    checkpoint_dir = job["output"]["checkpoints"]
    os.makedirs(checkpoint_dir, exist_ok=True)
    batch = hp["batchSize"]
    epoch_seconds = []
    val_acc = None
    for epoch in range(start_epoch, epochs + 1):
        began = time.perf_counter()
        model.train()
        order = torch.randperm(train.rows, generator=shuffler).numpy()
        total = 0.0
        reported = began
        for start in range(0, train.rows, batch):
            rows = order[start : start + batch]
            x = torch.from_numpy(train.dense(rows)).to(device)
            y = torch.from_numpy(train.labels[rows]).to(device)
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total += float(loss.item()) * rows.shape[0]
            done = start + rows.shape[0]
            if done < train.rows and time.perf_counter() - reported >= hp["stepReportSeconds"]:
                step = {"type": "progress", "epoch": epoch, "epochs": epochs, "step": start // batch + 1}
                if finite_or_none(total / done) is not None:
                    step["loss"] = total / done
                emit(step)
                reported = time.perf_counter()
        last_loss = total / train.rows
        val_acc = accuracy(torch, model, val, device, 1024)
        if use_cuda:
            torch.cuda.synchronize()
        epoch_seconds.append(time.perf_counter() - began)

        progress = {"type": "progress", "epoch": epoch, "epochs": epochs}
        if finite_or_none(last_loss) is not None:
            progress["loss"] = last_loss
        progress["metrics"] = {} if val_acc is None else {"valAccuracy": val_acc}
        emit(progress)

        rel = f"{checkpoint_dir}/epoch-{epoch:04d}.pt"
        save_checkpoint(
            torch,
            rel,
            {
                "format": CHECKPOINT_FORMAT,
                "epoch": epoch,
                "shape": [dim, hp["hidden"], n_classes],
                "meta": json.dumps({"loss": finite_or_none(last_loss), "hyperparameters": hp}),
                "model": model.state_dict(),
                "optimizerState": optimizer.state_dict()["state"],
                "torchRng": torch.get_rng_state(),
                "cudaRng": torch.cuda.get_rng_state() if use_cuda else None,
                "shuffleRng": shuffler.get_state(),
            },
        )
        emit({"type": "checkpoint", "epoch": epoch, "path": rel})

    if val_acc is None:
        val_acc = accuracy(torch, model, val, device, 1024)
    model_path = job["output"]["model"]
    os.makedirs(os.path.dirname(model_path) or ".", exist_ok=True)
    export_onnx(torch, model, dim, model_path)

    metrics_path = job["output"]["metrics"]
    os.makedirs(os.path.dirname(metrics_path) or ".", exist_ok=True)
    write_json_atomic(
        metrics_path,
        {
            "trainer": "pytorch-mlp",
            "loss": finite_or_none(last_loss),
            "valAccuracy": val_acc,
            "epochs": epochs,
            "epochsThisRun": len(epoch_seconds),
            "device": device.type,
            "deviceName": torch.cuda.get_device_name(0) if use_cuda else "cpu",
            "secondsPerEpoch": (sum(epoch_seconds) / len(epoch_seconds)) if epoch_seconds else None,
            "hyperparameters": hp,
            "torch": torch.__version__,
        },
    )
    emit({"type": "done"})


if __name__ == "__main__":
    try:
        main(sys.argv)
    except BadInput as err:
        print(f"train.py: bad input: {err}", file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_INPUT)
    except BrokenPipeError:
        # trainset went away (its stdout closed): die quietly; a worker elsewhere resumes the job.
        sys.exit(1)
    except Exception:
        traceback.print_exc()
        sys.exit(1)
