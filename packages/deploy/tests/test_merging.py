"""Model merging against mergekit's merge-method kernels (and `run_merge` end to end, slow)."""

import copy
import json
import math

import numpy as np
import pytest
import torch
from mergekit.merge_methods import registry
from mergekit.merge_methods.base import TensorBatch, TensorGroup
from mergekit.merge_methods.slerp import slerp as mk_slerp
from safetensors.torch import load_file, save_file

from masterclass.deploy.merging import (
    dare_sparsify,
    linear_merge,
    merge_folders,
    merge_tensors,
    slerp,
    task_arithmetic,
    ties_merge,
    trim_magnitude,
)
from masterclass.llm.hf_interop import llama_config_kwargs, llama_state_dict

# mergekit computes in float32 for float32 inputs and we in float64 rounded once: the merged
# tensors (entries of size ~0.3) agree to a few float32 ulps, far inside the 1e-6 asked for.
TOL = 1e-6


def _nudge(model, seed, steps=3, lr=0.5):
    """A "fine-tune": a few plain gradient steps on random tokens of the seed's own task."""
    tuned = copy.deepcopy(model).train()
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = torch.randint(0, 64, (4, 17), generator=g) + 64 * seed
        _, loss = tuned(x[:, :-1], x[:, 1:])
        grads = torch.autograd.grad(loss, list(tuned.parameters()))
        with torch.no_grad():
            for p, gr in zip(tuned.parameters(), grads):
                p -= lr * gr
    return tuned.eval()


@pytest.fixture(scope="module")
def tuned(make_lm):
    """HF-named state dicts of a base and two fine-tuned copies of it."""
    base = make_lm(0)
    return [llama_state_dict(m) for m in (base, _nudge(base, 1), _nudge(base, 2))]


def _hf_folder(state, config, path):
    # An HF folder written by hand (safetensors and config.json), so the fast tests need no
    # transformers import; the slow test uses `export_hf`.
    path.mkdir()
    save_file({k: v.contiguous() for k, v in state.items()}, str(path / "model.safetensors"))
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", **config}
    (path / "config.json").write_text(json.dumps(cfg))
    return path


def _mk_group(base, models):
    return TensorGroup.from_tensors([base, *models], base_index=0)


def _mk_params(weights, density=1.0, lam=1.0, normalize=False, rescale=False):
    ids = range(1, len(weights) + 1)
    return {
        "weight": dict(zip(ids, weights)),
        "density": dict.fromkeys(ids, density),
        "lambda": lam,
        "normalize": normalize,
        "rescale": rescale,
        "int8_mask": False,
    }


def test_linear_and_task_arithmetic_match_mergekit(tuned):
    base, a, b = tuned
    linear = registry.get("linear")
    ta = registry.get("task_arithmetic")
    for name in base:
        want = linear.merge_batch(
            TensorBatch((a[name][None], b[name][None])), weight=torch.tensor([[0.3, 0.9]])
        )[0]
        got = linear_merge([a[name], b[name]], [0.3, 0.9])
        assert (got - want).abs().max() <= TOL, name
        want = ta.merge_group(
            _mk_group(base[name], [a[name], b[name]]), **_mk_params([1.0, 0.5], lam=0.8)
        )
        got = task_arithmetic(base[name], [a[name], b[name]], [1.0, 0.5], lam=0.8)
        assert (got - want).abs().max() <= TOL, name


def test_slerp_matches_mergekit_keeps_endpoints_and_norm(tuned):
    base, a, _ = tuned
    g = torch.Generator().manual_seed(0)
    # Far-apart tensors (random, ~90 degrees) exercise the great circle; base vs tuned (cos ~ 1)
    # exercises the linear fallback.
    pairs = [(base[n], a[n]) for n in base] + [
        (torch.randn(8, 16, generator=g), torch.randn(8, 16, generator=g)) for _ in range(3)
    ]
    # A zero tensor (an all-zero bias) has no direction: both sides treat its norm as 1.
    pairs.append((torch.zeros(8), torch.randn(8, generator=g)))
    for v0, v1 in pairs:
        for t in (0.0, 0.25, 0.5, 0.9, 1.0):
            want = mk_slerp(torch.tensor([t]), v0[None], v1[None])[0]
            got = slerp(t, v0, v1)
            assert got.dtype == v0.dtype and (got - want).abs().max() <= TOL, t
        assert torch.equal(slerp(0.0, v0, v1), v0) and torch.equal(slerp(1.0, v0, v1), v1)
    # Geometry, against numpy: for unit vectors the result has norm 1 and makes the angle
    # t * Omega with v0 (float64; 1e-12 is rounding of acos and the sums).
    rng = np.random.default_rng(1)
    u, v = rng.normal(size=50), rng.normal(size=50)
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    omega = math.acos(u @ v)
    for t in (0.2, 0.5, 0.7):
        s = slerp(t, torch.tensor(u), torch.tensor(v)).numpy()
        assert abs(np.linalg.norm(s) - 1) < 1e-12
        assert abs(math.acos(np.clip(s @ u, -1, 1)) - t * omega) < 1e-7
        # The chord sags: its norm is sqrt(1 - 2t(1-t)(1 - cos Omega)) < 1.
        lin = (1 - t) * u + t * v
        assert abs(np.linalg.norm(lin) ** 2 - (1 - 2 * t * (1 - t) * (1 - u @ v))) < 1e-12


@pytest.mark.parametrize("density, lam", [(0.3, 1.0), (0.7, 0.8), (1.0, 1.0)])
def test_ties_matches_mergekit(tuned, density, lam):
    base, a, b = tuned
    ties = registry.get("ties")
    for name in base:
        want = ties.merge_group(
            _mk_group(base[name], [a[name], b[name]]),
            **_mk_params([1.0, 0.6], density=density, lam=lam, normalize=True),
        )
        got = ties_merge(base[name], [a[name], b[name]], [1.0, 0.6], density=density, lam=lam)
        assert (got - want).abs().max() <= TOL, name


def test_ties_trims_elects_and_averages_disjointly():
    # A hand-computed case, independent of both implementations.
    base = torch.zeros(5, dtype=torch.float64)
    t1 = torch.tensor([3.0, 1.0, -1.0, 0.1, -2.0], dtype=torch.float64)
    t2 = torch.tensor([-1.0, 1.0, 2.0, 0.2, 0.0], dtype=torch.float64)
    assert torch.equal(trim_magnitude(t1, 0.4), torch.tensor([3.0, 0, 0, 0, -2.0]).double())
    # An exact tie of the total mass elects +, as in mergekit: the positive move survives.
    one = torch.ones(1, dtype=torch.float64)
    assert float(ties_merge(0 * one, [one, -one], [1.0, 1.0], density=1.0)) == 1.0
    # A density too small for one entry still keeps the largest one (as mergekit does).
    assert torch.equal(trim_magnitude(t1, 0.1), torch.tensor([3.0, 0, 0, 0, 0]).double())
    got = ties_merge(base, [t1, t2], [1.0, 1.0], density=1.0)
    # Sums 2, 2, 1, 0.3, -2: signs +, +, +, +, -. Agreeing entries: 3 | 1, 1 | 2 | 0.1, 0.2 | -2.
    assert torch.allclose(got, torch.tensor([3.0, 1.0, 2.0, 0.15, -2.0]).double(), atol=1e-15)


@pytest.mark.parametrize("method", ["dare_linear", "dare_ties"])
def test_dare_matches_mergekit_with_the_same_seed(tuned, method):
    # RNG alignment: mergekit draws torch.bernoulli on a float32 tensor from the global
    # generator; ours draws the same from a torch.Generator with the same seed, model by model in
    # the same order, so the masks are identical and so are the merged tensors.
    base, a, b = tuned
    mk = registry.get(method)
    for i, name in enumerate(sorted(base)):
        torch.manual_seed(100 + i)
        want = mk.merge_group(
            _mk_group(base[name], [a[name], b[name]]),
            **_mk_params([1.0, 0.7], density=0.4, rescale=True),
        )
        got = merge_tensors(
            method,
            base[name],
            [a[name], b[name]],
            weights=[1.0, 0.7],
            density=0.4,
            generator=torch.Generator().manual_seed(100 + i),
        )
        assert (got - want).abs().max() <= TOL, name


def test_dare_mask_statistics_and_unbiased_rescale():
    g = torch.Generator().manual_seed(3)
    delta = torch.randn(200, 100, generator=g, dtype=torch.float64)
    p = 0.3
    kept = dare_sparsify(delta, p, generator=g, rescale="density")
    frac = float((kept != 0).double().mean())
    # Binomial(20000, 0.3): standard deviation 0.0032; 5 sigma leaves a 1e-6 false alarm rate.
    assert abs(frac - p) < 5 * math.sqrt(p * (1 - p) / delta.numel())
    assert torch.allclose(kept[kept != 0], delta[kept != 0] / p)
    # Unbiased: averaged over 400 masks, each entry's mean is delta within 5 standard errors
    # (the standard error of one entry is |delta| sqrt((1 - p) / (p n))).
    mean = sum(dare_sparsify(delta[:10], p, generator=g, rescale="density") for _ in range(400))
    se = delta[:10].abs() * math.sqrt((1 - p) / p / 400)
    assert ((mean / 400 - delta[:10]).abs() <= 5 * se + 1e-12).float().mean() > 0.999
    # The L1 rescale restores the total mass exactly.
    l1 = dare_sparsify(delta.float(), p, generator=g)
    assert abs(float(l1.abs().sum()) / float(delta.abs().sum()) - 1) < 1e-5


def test_merge_folders_equals_the_tensor_merge(tuned, make_lm, tmp_path):
    cfg = llama_config_kwargs(make_lm(0).config)
    base, a, b = (_hf_folder(s, cfg, tmp_path / n) for s, n in zip(tuned, ["base", "a", "b"]))
    (base / "tokenizer.json").write_text("{}")
    out = merge_folders(
        base, [a, b], "dare_ties", out=tmp_path / "merged", seed=5, weights=[1.0, 1.0], density=0.5
    )
    merged = load_file(str(out / "model.safetensors"))
    assert json.loads((out / "config.json").read_text())["model_type"] == "llama"
    assert (out / "tokenizer.json").is_file()
    g = torch.Generator().manual_seed(5)
    for name in sorted(tuned[0]):
        want = merge_tensors(
            "dare_ties",
            tuned[0][name],
            [tuned[1][name], tuned[2][name]],
            weights=[1.0, 1.0],
            density=0.5,
            generator=g,
        )
        assert torch.equal(merged[name], want), name
    # SLERP halfway between the base and one fine-tune, through the folder path as well.
    out = merge_folders(base, [a], "slerp", out=tmp_path / "slerp", t=0.5)
    merged = load_file(str(out / "model.safetensors"))
    name = "model.layers.0.mlp.down_proj.weight"
    assert torch.equal(merged[name], slerp(0.5, tuned[0][name], tuned[1][name]))


def test_bad_arguments(tuned, tmp_path):
    x = torch.zeros(3)
    with pytest.raises(ValueError, match="t must be in"):
        slerp(1.5, x, x)
    with pytest.raises(ValueError, match="one shape"):
        linear_merge([x, torch.zeros(4)], [1, 1])
    with pytest.raises(TypeError, match="floating-point"):
        linear_merge([torch.zeros(3, dtype=torch.long)], [1])
    with pytest.raises(ValueError, match="one entry per model"):
        task_arithmetic(x, [x, x], [1.0])
    with pytest.raises(ValueError, match="density must be"):
        ties_merge(x, [x], [1.0], density=0.0)
    with pytest.raises(ValueError, match="method must be one of"):
        merge_tensors("soup", x, [x])
    with pytest.raises(ValueError, match="needs density"):
        merge_tensors("ties", x, [x])
    with pytest.raises(ValueError, match="needs generator"):
        merge_tensors("dare_linear", x, [x], density=0.5)
    with pytest.raises(ValueError, match="exactly one model"):
        merge_tensors("slerp", x, [x, x], t=0.5)
    with pytest.raises(ValueError, match="rescale must be"):
        dare_sparsify(x, 0.5, generator=torch.Generator(), rescale="l2")
    with pytest.raises(ValueError, match="not a model folder"):
        merge_folders(tmp_path, [tmp_path], "ties", out=tmp_path / "o", density=0.5)


@pytest.mark.slow
def test_run_merge_end_to_end_on_hf_folders(make_lm, tmp_path):
    # mergekit's whole pipeline (config, loader, planner, writer) on folders from `export_hf`,
    # against merge_folders; then the merged folder loads in transformers and runs.
    from mergekit.config import MergeConfiguration
    from mergekit.merge import MergeOptions, run_merge
    from transformers import LlamaForCausalLM

    from masterclass.deploy.llm_export import export_hf

    base_model = make_lm(0)
    folders = [
        str(export_hf(m, None, tmp_path / n))
        for m, n in zip([base_model, _nudge(base_model, 1), _nudge(base_model, 2)], "012")
    ]
    cases = {
        "linear": ({"weight": 0.3}, {"weight": 0.7}, {}, {"weights": [0.3, 0.7]}),
        "ties": (
            {"weight": 1.0, "density": 0.5},
            {"weight": 0.5, "density": 0.5},
            {},
            {"weights": [1.0, 0.5], "density": 0.5},
        ),
        "task_arithmetic": (
            {"weight": 1.0},
            {"weight": 1.0},
            {"lambda": 0.5},
            {"weights": [1.0, 1.0], "lam": 0.5},
        ),
    }
    for method, (p1, p2, shared, ours) in cases.items():
        config = MergeConfiguration.model_validate(
            {
                "merge_method": method,
                # Linear takes no base: every listed model is an input with a weight.
                "base_model": None if method == "linear" else folders[0],
                "models": [
                    {"model": folders[1], "parameters": p1},
                    {"model": folders[2], "parameters": p2},
                ],
                "parameters": shared,
                "dtype": "float32",
            }
        )
        run_merge(config, str(tmp_path / f"mk_{method}"), MergeOptions(quiet=True))
        mine = merge_folders(
            None if method == "linear" else folders[0],
            folders[1:],
            method,
            out=tmp_path / f"ours_{method}",
            **ours,
        )
        want = {}
        for f in (tmp_path / f"mk_{method}").glob("*.safetensors"):
            want.update(load_file(str(f)))
        got = load_file(str(mine / "model.safetensors"))
        for name, w in want.items():
            assert (got[name] - w).abs().max() <= TOL, (method, name)
    hf = LlamaForCausalLM.from_pretrained(str(tmp_path / "ours_ties"))
    assert torch.isfinite(hf(torch.tensor([[1, 2, 3]])).logits).all()
