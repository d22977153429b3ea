"""The whole adoption from the CLI on a real anvil (issue #15): a holder delegates, the
creator proposes and opens the vote, inferers vote, anyone queues and executes; every
step in a wrong state is refused with the reason and when it can be taken. Then the
deprecation of an adopted model by vote, from the CLI too (``helio model deprecate``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from node.chain.anvil import Anvil
from node.chain.artifacts import ensure_compiled
from node.chain.bindings import HelioChain
from node.chain.connect import connect, local_account
from node.chain.deploy import deploy_all
from node.chain.devkeys import DEV_ACCOUNTS
from node.chain.params import ChainParams
from node.cli.main import app
from node.core.errors import ConfigError

pytestmark = pytest.mark.chain
CID = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    ensure_compiled()
    directory = tmp_path_factory.mktemp("deployments")
    with Anvil() as anvil:
        deploy_all(connect(anvil.rpc_url), DEV_ACCOUNTS[0].private_key, "local", directory=directory)
        yield anvil.rpc_url, directory


def helio(chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    rpc_url, directory = chain
    monkeypatch.setenv("HELIO_DEPLOYMENTS_DIR", str(directory))
    monkeypatch.setenv("COLUMNS", "400")
    for name in ("HELIO_PRIVATE_KEY", "HELIO_CHAIN_ID", "HELIO_NETWORK"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, [*args, "--rpc-url", rpc_url])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def mine(chain: tuple[str, Path], blocks: int = 1, seconds: int = 0) -> None:
    w3 = connect(chain[0])
    if seconds:
        w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]


@pytest.mark.slow
def test_adoption_from_the_cli_with_a_delegating_holder(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    run = lambda *a: helio(chain, monkeypatch, *a)  # noqa: E731
    inferer, holder = DEV_ACCOUNTS[2].address, DEV_ACCOUNTS[5].address
    run("stake", "1000", "--peer-id",  # a real peer id: `helio stake` checks it
        "QmNU7EMHLrDXXWSSotLgxX5tu6gfv1eyprsEzwk7HwjyAQ", "--dev-account", "2")
    run("stake", "1000", "--peer-id",  # a real peer id: `helio stake` checks it
        "QmbnHB5HZcfhaNLXdiRru4CcmL6GxoZbcjENyeTB2EPzky", "--dev-account", "3")
    with pytest.raises(ConfigError, match="not an active inferer"):
        run("delegate", holder, "500", "--dev-account", "5")
    out = run("delegate", inferer, "500", "--dev-account", "5")
    assert f"delegated 500 HELIO to {inferer}; its voting power is now 1500 HELIO" in out

    assert "flow-model is not proposed" in run("model", "status", "flow-model")
    run("model", "propose", "flow-model", "--cid", CID, "--license", "MIT", "--family", "llama",
        "--min-memory-mb", "600", "--energy-mj-per-token", "900", "--max-latency-ms", "300", "--dev-account", "4")
    out = run("model", "status", "flow-model")
    assert "flow-model: evaluating" in out and "benchmarks: 0 posted, 1 needed" in out
    assert "next: active inferers run `helio model evaluate flow-model` (any of them, now)" in out
    with pytest.raises(ConfigError, match=r"cannot vote on flow-model: it is 'evaluating', not in Voting"):
        run("model", "vote", "flow-model", "--dev-account", "2")

    as_inferer = HelioChain.open(connect(chain[0]), "local", directory=chain[1])
    as_inferer.account = local_account(DEV_ACCOUNTS[2].private_key)
    as_inferer.models.post_benchmark("flow-model", 25.5, 900, 8_000, 1_024)
    assert "next: the creator" in run("model", "status", "flow-model")
    out = run("model", "vote", "flow-model", "--open", "--dev-account", "4")
    assert "vote on flow-model is open" in out and "next: inferers vote with `helio model vote flow-model` from block" in out
    with pytest.raises(ConfigError, match=r"cannot vote on flow-model now: the vote is pending; next: .* from block \d+"):
        run("model", "vote", "flow-model", "--dev-account", "2")
    mine(chain, 2)
    with pytest.raises(ConfigError, match=r"had no voting power at the vote's snapshot.*helio delegate INFERER AMOUNT"):
        run("model", "vote", "flow-model", "--dev-account", "5")
    out = run("model", "vote", "flow-model", "--dev-account", "2")
    assert "voted for on flow-model with 1500 HELIO of power" in out  # 1000 own + 500 delegated
    with pytest.raises(ConfigError, match="already voted"):
        run("model", "vote", "flow-model", "--dev-account", "2")
    with pytest.raises(ConfigError, match=rf"manifest {CID} is 'flow-model', which is voting, not adopted"):
        run("node", "serve", "--manifest-cid", CID, "--dev-key", "2")  # refused before any fetch
    with pytest.raises(ConfigError, match=r"cannot queue flow-model: it is active, not succeeded; next: inferers vote .* until block \d+"):
        run("model", "queue", "flow-model", "--dev-account", "6")

    mine(chain, ChainParams().voting_period_blocks + 1)
    assert "next: anyone queues it in the Timelock with `helio model queue flow-model` (now)" in run("model", "status", "flow-model")
    with pytest.raises(ConfigError, match="cannot execute flow-model: it is succeeded, not queued"):
        run("model", "execute", "flow-model", "--dev-account", "6")
    out = run("model", "queue", "flow-model", "--dev-account", "6")
    assert "queued the adoption of flow-model; `helio model execute flow-model` at " in out and "(in 2" in out
    with pytest.raises(ConfigError, match=r"cannot execute flow-model yet: the Timelock releases it at .* \(in 2"):
        run("model", "execute", "flow-model", "--dev-account", "6")
    mine(chain, 1, seconds=ChainParams().timelock_delay_s + 1)
    assert "executed: flow-model is adopted" in run("model", "execute", "flow-model", "--dev-account", "6")
    out = run("model", "status", "flow-model")
    assert "flow-model: adopted" in out and "adoption vote" in out and "executed" in out
    listed = run("model", "list", "--cache-dir", str(tmp_path))
    assert "flow-model" in listed and CID in listed  # the adopted models, with their manifest CIDs


def test_governance_commands_have_help() -> None:
    for command in (["model", "status"], ["model", "queue"], ["model", "execute"], ["delegate"],
                    ["model", "close-evaluation"], ["model", "evaluate"], ["model", "vote"],
                    ["model", "finalize"], ["model", "deprecate"]):
        result = CliRunner().invoke(app, [*command, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_propose_takes_cid_license_and_family_from_the_conversion_and_refuses_a_duplicate_cid(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from node.ipfs.publish import manifest_cid
    from node.models.tiny import write_tiny_model

    model_dir = write_tiny_model("qwen3", tmp_path / "cache" / "models" / "tiny-qwen3" / "float32")
    monkeypatch.setenv("HELIO_CACHE_DIR", str(tmp_path / "cache"))
    reqs = ("--min-memory-mb", "600", "--energy-mj-per-token", "900", "--max-latency-ms", "300")
    out = helio(chain, monkeypatch, "model", "propose", "tiny-qwen3", *reqs, "--dev-account", "7")
    assert f"proposed tiny-qwen3: evaluating (manifest {manifest_cid(model_dir)}, qwen3, none)" in out
    cid = manifest_cid(model_dir)  # the same weights under a new id:
    with pytest.raises(ConfigError, match=rf"manifest {cid} is already proposed as 'tiny-qwen3' by {DEV_ACCOUNTS[7].address} \(evaluating\)"):
        helio(chain, monkeypatch, "model", "propose", "tiny-qwen3-again", "--cid", manifest_cid(model_dir),
              "--license", "MIT", "--family", "qwen3", *reqs, "--dev-account", "8")
    with pytest.raises(ConfigError, match="give --cid, --license and --family, or convert never-converted first"):
        helio(chain, monkeypatch, "model", "propose", "never-converted", *reqs, "--dev-account", "7")

    write_tiny_model("llama", tmp_path / "cache" / "models" / "tiny-llama" / "float32")
    helio(chain, monkeypatch, "model", "propose", "tiny-llama", *reqs, "--no-evaluate", "--dev-account", "7")
    out = helio(chain, monkeypatch, "model", "status", "tiny-llama")
    assert "tiny-llama: proposed" in out and "opens the evaluation with `helio model propose tiny-llama` (now)" in out
    out = helio(chain, monkeypatch, "model", "propose", "tiny-llama", "--dev-account", "7")
    assert "evaluation open for tiny-llama: evaluating" in out


@pytest.mark.slow
def test_an_evaluation_no_fleet_passes_is_rejected_on_chain_with_its_reason(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = lambda *a: helio(chain, monkeypatch, *a)  # noqa: E731
    run("stake", "1000", "--peer-id", "QmY9YiQTmARCTjueahHXHciD3ncp1DoAsydqgdhLdeiTiB",
        "--dev-account", "8")
    run("model", "propose", "heavy-model", "--cid", "QmHeavyModelManifest", "--license", "MIT",
        "--family", "llama", "--min-memory-mb", "600", "--energy-mj-per-token", "900",
        "--max-latency-ms", "300", "--dev-account", "9")
    as_inferer = HelioChain.open(connect(chain[0]), "local", directory=chain[1])
    as_inferer.account = local_account(DEV_ACCOUNTS[8].private_key)
    as_inferer.models.post_benchmark("heavy-model", 2.0, 1_200, 8_000, 4_096)  # 500 ms, 1200 mJ
    reason = ("no inferer ran it within the energy bound: the best was 1200 mJ/token, the bound "
              "900 mJ/token")
    out = run("model", "status", "heavy-model")
    assert "fleet within the energy and latency bounds: 0 inferer(s) offering 0 MB" in out
    assert f"verdict so far: fails: {reason}; the evaluation period ends at " in out
    assert "anyone runs `helio model close-evaluation heavy-model`" in out
    with pytest.raises(ConfigError, match=f"cannot open the vote on heavy-model yet: {reason}"):
        run("model", "vote", "heavy-model", "--open", "--dev-account", "9")
    with pytest.raises(ConfigError, match=r"the evaluation of heavy-model is open until .* \(in 3 days\)"):
        run("model", "close-evaluation", "heavy-model", "--dev-account", "6")

    mine(chain, 1, seconds=ChainParams().evaluation_period_s + 1)
    out = run("model", "close-evaluation", "heavy-model", "--dev-account", "6")  # anyone
    assert f"evaluation failed: heavy-model is rejected on chain: {reason}" in out
    out = run("model", "status", "heavy-model")
    assert "heavy-model: rejected" in out and f"evaluation failed (energy): {reason}" in out
    with pytest.raises(ConfigError, match="cannot close the evaluation of heavy-model: it is 'rejected'"):
        run("model", "close-evaluation", "heavy-model", "--dev-account", "6")


@pytest.mark.slow
def test_a_lost_vote_is_finalized_from_the_cli(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = lambda *a: helio(chain, monkeypatch, *a)  # noqa: E731
    run("model", "propose", "lost-model", "--cid", "QmLostModelManifest", "--license", "MIT",
        "--family", "llama", "--min-memory-mb", "0", "--energy-mj-per-token", "0",
        "--max-latency-ms", "0", "--dev-account", "9")  # 0: no bound
    as_inferer = HelioChain.open(connect(chain[0]), "local", directory=chain[1])
    as_inferer.account = local_account(DEV_ACCOUNTS[8].private_key)
    if not as_inferer.staking.is_active(DEV_ACCOUNTS[8].address):  # this test run alone
        run("stake", "1000", "--peer-id", "QmY9YiQTmARCTjueahHXHciD3ncp1DoAsydqgdhLdeiTiB",
            "--dev-account", "8")
    as_inferer.models.post_benchmark("lost-model", 1.0, 50_000, 5_000, 1)
    run("model", "vote", "lost-model", "--open", "--dev-account", "9")
    with pytest.raises(ConfigError, match="cannot finalize lost-model: it is pending, not a defeated"):
        run("model", "finalize", "lost-model", "--dev-account", "6")
    mine(chain, 2)
    run("model", "vote", "lost-model", "--support", "against", "--dev-account", "8")
    mine(chain, ChainParams().voting_period_blocks + 1)
    assert "next: anyone records the rejection with `helio model finalize lost-model` (now)" in \
        run("model", "status", "lost-model")
    out = run("model", "finalize", "lost-model", "--dev-account", "6")
    assert "recorded: lost-model is rejected (the vote defeated)" in out


@pytest.mark.slow
def test_an_adopted_model_is_deprecated_by_vote_from_the_cli(
    chain: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    run = lambda *a: helio(chain, monkeypatch, *a)  # noqa: E731
    smol, proposer, holder = "smollm2-135m-instruct", DEV_ACCOUNTS[1].address, DEV_ACCOUNTS[6].address
    out = run("model", "status", smol)  # adopted at deployment, without a vote
    assert f"{smol}: adopted" in out and ("next: to retire it, an inferer with at least 1000 HELIO "
                                         f"of voting power proposes its deprecation with `helio model deprecate {smol}`") in out
    with pytest.raises(ConfigError, match=rf"cannot vote on {smol}: it is adopted and no deprecation vote is open; next: to retire it"):
        run("model", "vote", smol, "--dev-account", "1")
    with pytest.raises(ConfigError, match=rf"cannot queue {smol}: it is adopted and no deprecation vote is open; next: to retire it"):
        run("model", "queue", smol, "--dev-account", "6")
    with pytest.raises(ConfigError, match="cannot deprecate never-proposed: no model with this id is registered"):
        run("model", "deprecate", "never-proposed", "--dev-account", "6")
    with pytest.raises(ConfigError, match=rf"{holder} has 0 HELIO of voting power; proposing a deprecation needs 1000 HELIO .*`helio stake AMOUNT"):
        run("model", "deprecate", smol, "--dev-account", "6")  # a holder who runs no node
    run("stake", "1000", "--peer-id",  # a real peer id: `helio stake` checks it
        "QmPfdHgM4AEffrfsYTWnSKWEQSf9PRTLJ8McPSUWjLHeVr", "--dev-account", "1")
    with pytest.raises(ConfigError, match=r"has had 1000 HELIO of voting power only since block \d+: the Governor counts it from the next block"):
        run("model", "deprecate", smol, "--dev-account", "1")
    mine(chain, 1)

    # A first deprecation vote is lost: the model stays adopted and can be proposed again.
    out = run("model", "deprecate", smol, "--dev-account", "1")
    assert f"proposed the deprecation of {smol} (proposal " in out
    assert f"next: inferers vote with `helio model vote {smol}` from block" in out
    with pytest.raises(ConfigError, match=rf"a deprecation vote on {smol} is already open \(proposal \d+, pending\)"):
        run("model", "deprecate", smol, "--dev-account", "1")
    with pytest.raises(ConfigError, match=rf"cannot vote on {smol} now: the deprecation vote is pending; next: .* from block \d+"):
        run("model", "vote", smol, "--dev-account", "1")
    mine(chain, 2)
    out = run("model", "vote", smol, "--support", "against", "--dev-account", "1")
    assert f"voted against on the deprecation of {smol} with 1000 HELIO of power" in out
    mine(chain, ChainParams().voting_period_blocks + 1)
    out = run("model", "status", smol)
    assert re.search(r"deprecation vote \d+: defeated; the model stays adopted next: to try again", out), out

    # The second passes: vote, queue, execute; each step too early is refused.
    run("model", "deprecate", smol, "--dev-account", "1")
    out = run("model", "status", smol)
    assert f"deprecation proposed by {proposer} at block" in out and f"'Deprecate model {smol} (vote 2)'" in out
    assert re.search(r"deprecation vote \d+: pending; votes: against 0, for 0, abstain 0", out), out
    mine(chain, 2)
    with pytest.raises(ConfigError, match=rf"cannot queue {smol}: its deprecation vote is active, not succeeded; next: inferers vote .* until block \d+"):
        run("model", "queue", smol, "--dev-account", "6")
    out = run("model", "vote", smol, "--dev-account", "1")
    assert f"voted for on the deprecation of {smol} with 1000 HELIO of power" in out
    mine(chain, ChainParams().voting_period_blocks + 1)
    assert f"next: anyone queues it in the Timelock with `helio model queue {smol}` (now)" in run("model", "status", smol)
    with pytest.raises(ConfigError, match=rf"cannot execute {smol}: its deprecation vote is succeeded, not queued"):
        run("model", "execute", smol, "--dev-account", "6")
    out = run("model", "queue", smol, "--dev-account", "6")
    assert f"queued the deprecation of {smol}; `helio model execute {smol}` at " in out and "(in 2" in out
    with pytest.raises(ConfigError, match=rf"cannot execute {smol} yet: the Timelock releases it at .* \(in 2"):
        run("model", "execute", smol, "--dev-account", "6")
    mine(chain, 1, seconds=ChainParams().timelock_delay_s + 1)
    assert f"executed: {smol} is deprecated" in run("model", "execute", smol, "--dev-account", "6")
    out = run("model", "status", smol)
    assert f"{smol}: deprecated" in out and f": executed (proposed by {proposer})" in out
    assert smol not in HelioChain.open(connect(chain[0]), "local", directory=chain[1]).models.adopted_models()
    with pytest.raises(ConfigError, match=rf"cannot deprecate {smol}: it is deprecated, not adopted"):
        run("model", "deprecate", smol, "--dev-account", "1")
    with pytest.raises(ConfigError, match=rf"cannot vote on {smol}: it is 'deprecated', not in Voting"):
        run("model", "vote", smol, "--dev-account", "1")
