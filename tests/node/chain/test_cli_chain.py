"""``helio stake|unstake|withdraw`` and ``helio model propose|evaluate|vote`` against a real anvil
with the whole suite deployed (typer's CliRunner, in process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect
from node.chain.deploy import deploy_all
from node.chain.devkeys import DEV_ACCOUNTS
from node.cli.main import app
from node.cli.stake import to_wei
from node.core.errors import ConfigError

pytestmark = pytest.mark.chain
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
PEER_IDS = {2: "QmNU7EMHLrDXXWSSotLgxX5tu6gfv1eyprsEzwk7HwjyAQ",
            3: "QmbnHB5HZcfhaNLXdiRru4CcmL6GxoZbcjENyeTB2EPzky",
            5: "QmY9YiQTmARCTjueahHXHciD3ncp1DoAsydqgdhLdeiTiB"}  # real ones: `helio stake` checks


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        deploy_all(
            connect(anvil.rpc_url), DEV_ACCOUNTS[0].private_key, "local", directory=directory
        )
        yield anvil.rpc_url, directory


def helio(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    rpc_url, directory = chain
    monkeypatch.setenv("HELIO_DEPLOYMENTS_DIR", str(directory))
    for name in ("HELIO_PRIVATE_KEY", "HELIO_CHAIN_ID", "HELIO_NETWORK"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, [*args, "--rpc-url", rpc_url])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_stake_unstake_withdraw(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    out = helio(
        chain,
        monkeypatch,
        "stake",
        "1500",
        "--peer-id",
        "QmPfdHgM4AEffrfsYTWnSKWEQSf9PRTLJ8McPSUWjLHeVr",  # a real peer id: the CLI checks it
        "--region",
        "UTC",
        "--dev-account",
        "1",
    )
    assert "registered" in out and "own stake 1500 HELIO, active: True" in out
    out = helio(chain, monkeypatch, "stake", "0.5", "--dev-account", "1")
    assert "own stake 1500.5 HELIO" in out
    out = helio(chain, monkeypatch, "unstake", "500.5", "--dev-account", "1")
    assert "unbonding 500.5 HELIO" in out
    with pytest.raises(Exception, match="StakingStillUnbonding"):
        helio(chain, monkeypatch, "withdraw", "--dev-account", "1")
    w3 = connect(chain[0])
    w3.provider.make_request("evm_increaseTime", [2 * 24 * 3600])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    assert "withdrew 500.5 HELIO" in helio(chain, monkeypatch, "withdraw", "--dev-account", "1")


def test_model_propose_and_vote(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    for n in (2, 3):
        helio(
            chain,
            monkeypatch,
            "stake",
            "1000",
            "--peer-id",
            PEER_IDS[n],
            "--dev-account",
            str(n),
        )
    out = helio(chain, monkeypatch, "model", "propose", "cli-model", "--cid", CID, "--license", "MIT",
                "--family", "llama", "--min-memory-mb", "600", "--energy-mj-per-token", "900",
                "--max-latency-ms", "300", "--dev-account", "4")  # fmt: skip
    assert "proposed cli-model: evaluating" in out
    w3 = connect(chain[0])
    as_inferer = HelioChain.open(w3, "local", directory=chain[1])
    from node.chain.connect import local_account

    as_inferer.account = local_account(DEV_ACCOUNTS[2].private_key)
    as_inferer.models.post_benchmark("cli-model", 25.5, 900, 8_000, 1_024)
    w3.provider.make_request("anvil_mine", ["0x2"])  # type: ignore[arg-type]
    out = helio(chain, monkeypatch, "model", "vote", "cli-model", "--open", "--dev-account", "4")
    assert "vote on cli-model is open" in out
    w3.provider.make_request("anvil_mine", ["0x2"])  # type: ignore[arg-type]
    out = helio(
        chain, monkeypatch, "model", "vote", "cli-model", "--support", "for", "--dev-account", "2"
    )
    assert "'for': 1000000000000000000000" in out


def test_amounts_and_keys_are_checked(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert to_wei("1.25") == 125 * 10**16
    for bad in ("-1", "0", "abc", "1e-19"):
        with pytest.raises(ConfigError):
            to_wei(bad)
    with pytest.raises(ConfigError, match="HELIO_PRIVATE_KEY"):
        helio(chain, monkeypatch, "withdraw")
    with pytest.raises(ConfigError, match="--peer-id"):
        helio(chain, monkeypatch, "stake", "1000", "--dev-account", "7")


def test_model_evaluate_posts_what_it_measured(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, smollm2_dir: Path, tmp_path: Path
) -> None:
    """A staked inferer benchmarks the proposed model (real SmolLM2) and posts it; the
    accuracy equals transformers' own next-token predictions on the same text."""
    import torch

    from node.bench.scoring import english_text
    from node.client import ClientModel
    from node.ipfs import manifest_cid
    from node.models.reference import load_full_model

    # The deploy registered SmolLM2's own manifest for the demo model and a manifest CID is
    # registered once, so propose the same weights under another id (another manifest).
    eval_dir = tmp_path / "eval-model"
    eval_dir.mkdir()
    for f in smollm2_dir.iterdir():
        if f.name != "manifest.json":
            (eval_dir / f.name).symlink_to(f)
    manifest = json.loads((smollm2_dir / "manifest.json").read_text())
    (eval_dir / "manifest.json").write_text(json.dumps({**manifest, "model_id": "eval-model"}))
    smollm2_dir = eval_dir
    cid = manifest_cid(smollm2_dir)
    helio(chain, monkeypatch, "stake", "1000", "--peer-id", PEER_IDS[5], "--dev-account", "5")
    helio(chain, monkeypatch, "model", "propose", "eval-model", "--cid", cid, "--license", "Apache-2.0",
          "--family", "llama", "--min-memory-mb", "600", "--energy-mj-per-token", "900",
          "--max-latency-ms", "300", "--dev-account", "6")  # fmt: skip
    args = ("model", "evaluate", "eval-model", "--model-dir", str(smollm2_dir), "--watts", "250",
            "--decode-tokens", "4", "--quality-tokens", "64", "--json")  # fmt: skip

    with pytest.raises(Exception, match="is not an active inferer"):  # dev account 7 has no stake
        helio(chain, monkeypatch, *args, "--dev-account", "7")
    out = helio(chain, monkeypatch, *args, "--dev-account", "5")
    result = json.loads(out.strip().splitlines()[-1])
    assert result["posted"] and "1 benchmark(s) on chain" in out

    # the accuracy is the full transformers model's, on the same 64 tokens
    ids = ClientModel(smollm2_dir).encode(english_text())[:64]
    with torch.inference_mode():
        logits = load_full_model(smollm2_dir)(torch.tensor([ids])).logits[0, :-1]
    expected = float((logits.argmax(-1) == torch.tensor(ids[1:])).float().mean())
    assert result["accuracy"] == pytest.approx(expected, abs=1 / 63 + 1e-4)
    assert 0.2 < result["accuracy"] < 0.9 and 5 < result["perplexity"] < 200  # 64 tokens: little context
    assert result["mj_per_token"] == round(250 / result["tokens_per_s"] * 1000)

    models = HelioChain.open(connect(chain[0]), "local", directory=chain[1]).models
    posted = models.c.functions.benchmarkOf(
        models.c.functions.keyOf("eval-model").call(), DEV_ACCOUNTS[5].address).call()
    assert list(posted[:3]) == [round(result["tokens_per_s"] * 1000), result["mj_per_token"],
                          result["accuracy_bps"]]  # fmt: skip
    with pytest.raises(Exception, match="ModelBenchmarkAlreadyPosted"):
        helio(chain, monkeypatch, *args, "--dev-account", "5")

    # a directory that is not the proposed model is refused before any work
    other = tmp_path / "other"
    other.mkdir()
    (other / "manifest.json").write_text("{}")
    with pytest.raises(ConfigError, match="not the proposed model"):
        helio(chain, monkeypatch, "model", "evaluate", "eval-model", "--model-dir", str(other),
              "--dev-account", "5")  # fmt: skip
    with pytest.raises(ConfigError, match="'none' on chain"):
        helio(chain, monkeypatch, "model", "evaluate", "never-proposed", "--dev-account", "5")
