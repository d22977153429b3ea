"""Model ids, settings sources and the atomic file helpers."""

from __future__ import annotations

from pathlib import Path

import pytest

from node.core.errors import ConfigError, DiskSpaceError
from node.core.files import atomic_path, ensure_free_space
from node.core.names import validate_model_id
from node.core.settings import Settings


@pytest.mark.parametrize("good", ["smollm2-135m-instruct", "gemma3-270m", "a", "x1"])
def test_validate_model_id_accepts(good: str) -> None:
    assert validate_model_id(good) == good


@pytest.mark.parametrize("bad", ["", "Smol", "a.b", "a--b", "-a", "a-", "a_b", "a" * 65])
def test_validate_model_id_rejects(bad: str) -> None:
    with pytest.raises(ConfigError):
        validate_model_id(bad)


def test_settings_env_beats_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "helio.toml"
    config.write_text(f'cache_dir = "{tmp_path / "from-file"}"\nnetwork = "sepolia"\n')
    monkeypatch.setenv("HELIO_CONFIG", str(config))
    monkeypatch.delenv("HELIO_CACHE_DIR", raising=False)
    assert Settings().cache_dir == tmp_path / "from-file"
    assert Settings().network == "sepolia"
    monkeypatch.setenv("HELIO_CACHE_DIR", str(tmp_path / "from-env"))
    settings = Settings()
    assert settings.cache_dir == tmp_path / "from-env"
    assert settings.logs == tmp_path / "from-env" / "logs"


def test_settings_never_prints_the_private_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIO_PRIVATE_KEY", "0x" + "ab" * 32)
    settings = Settings()
    assert "abab" not in repr(settings)
    assert settings.private_key is not None
    assert settings.private_key.get_secret_value().endswith("abab")


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), atomic_path(final) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert list(tmp_path.iterdir()) == []
    with atomic_path(final) as tmp:
        tmp.write_bytes(b"whole")
    assert final.read_bytes() == b"whole"
    assert list(tmp_path.iterdir()) == [final]


def test_ensure_free_space_says_what_to_do(tmp_path: Path) -> None:
    ensure_free_space(tmp_path / "not" / "yet", 1, "tiny")
    with pytest.raises(DiskSpaceError, match="HELIO_CACHE_DIR"):
        ensure_free_space(tmp_path, 1 << 60, "a huge model")
