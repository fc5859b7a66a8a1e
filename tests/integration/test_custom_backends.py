"""Custom backends end to end (docs/contract.md §7), as a tenant uses them: a tiny Python class
in a temp dir, packaged and published with the CLI, ensured, then called through the gateway
and as a job, on the session's real Manager. Bad packages and unpublished backends give errors
that name the problem and the fix."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from inferencekey import DataClient, ManagementClient, ValidationError, WorkloadSpec

from .conftest import Project

BACKEND_CODE = '''
from inferencekey.custom_backend import CustomBackend


class Shout(CustomBackend):
    """Upper-cases the prompt; refuses a missing one; fails on "crash"."""

    def setup(self):
        self.suffix = "!"

    def process(self, input):
        prompt = input.get("prompt")
        if prompt == "crash":
            raise RuntimeError("the model fell over")
        if not isinstance(prompt, str):
            raise ValueError("prompt: a string is required")
        return {"text": prompt.upper() + self.suffix}
'''


def write_backend(root: Path, slug: str, **manifest: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "shout.py").write_text(BACKEND_CODE)
    (root / "requirements.txt").write_text("")
    m = {
        "name": slug,
        "version": "0.1.0",
        "task_type": "text2text",
        "requires_python": ">=3.8",
        "entrypoint": "shout:Shout",
        "sdk_protocol": "1",
        "description": "shouts",
    } | manifest
    (root / "manifest.json").write_text(json.dumps(m))
    return root


def cli(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, **project.env)
    env.pop("INFERENCEKEY_API_KEY", None)
    return subprocess.run(
        [sys.executable, "-m", "inferencekey", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sdk_headers(project: Project) -> dict[str, str]:
    return {"Authorization": f"Bearer {project.env['INFERENCEKEY_SDK_TOKEN']}"}


def publish_raw(project: Project, archive: bytes, **texts: str) -> httpx.Response:
    return httpx.post(
        f"{project.manager.url}/api/tenants/tnt_local/custom-backends",
        headers=sdk_headers(project),
        data=texts,
        files={"file": ("pkg.tar.gz", archive, "application/gzip")},
        timeout=60,
    )


def tarball(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
    return buf.getvalue()


GOOD_MANIFEST = json.dumps(
    {
        "name": "tiny",
        "version": "1",
        "task_type": "text2text",
        "requires_python": ">=3.8",
        "entrypoint": "tiny:Tiny",
        "sdk_protocol": "1",
    }
).encode()


def test_a_user_backend_is_packaged_published_ensured_and_called(
    project: Project, tmp_path: Path
) -> None:
    slug = "shout-" + uuid.uuid4().hex[:8]
    src = write_backend(tmp_path / "src", slug)
    archive = tmp_path / "shout.tar.gz"

    out = cli(project, "backend", "package", str(src), "-o", str(archive))
    assert out.returncode == 0, out.stderr
    assert f"packaged {slug} 0.1.0" in out.stdout
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert {"manifest.json", "requirements.txt", "shout.py"} <= set(names), names

    out = cli(project, "backend", "publish", str(archive), "--json")
    assert out.returncode == 0, out.stderr
    published = json.loads(out.stdout)
    assert published["slug"] == slug and published["version"] == "0.1.0"
    assert published["task_type"] == "text2text" and len(published["sha256"]) == 64
    assert published["size_bytes"] == archive.stat().st_size
    # Publishing the same package again is answered with the first record.
    again = ManagementClient.from_env().publish_backend(archive)
    assert again["id"] == published["id"]
    listed = cli(project, "backend", "list", "--json")
    assert any(b["id"] == published["id"] for b in json.loads(listed.stdout)), listed.stdout

    mgmt = ManagementClient.from_env()
    ref = mgmt.ensure(WorkloadSpec(name="shouter", slug=slug, model="none", backend=slug))
    assert ref.action == "created"
    ready = mgmt.wait_until_ready(slug, timeout=240)
    assert ready["phase"] == "ready", ready

    base = f"{project.manager.url}/endpoint/{project.slug}/{slug}"
    live = {"Authorization": f"Bearer {project.key}"}
    r = httpx.post(f"{base}/v1/predict", json={"prompt": "hola"}, headers=live, timeout=60)
    assert r.status_code == 200, r.text
    assert r.json() == {"text": "HOLA!"}

    # The tenant's ValueError is the caller's 400; its crash is 503 backend_unavailable.
    r = httpx.post(f"{base}/v1/predict", json={"prompt": 3}, headers=live, timeout=60)
    assert r.status_code == 400, r.text
    assert "prompt: a string is required" in r.json()["error"]["message"]
    r = httpx.post(f"{base}/v1/predict", json={"prompt": "crash"}, headers=live, timeout=60)
    assert r.status_code == 503, r.text
    err = r.json()["error"]
    assert err["code"] == "backend_unavailable" and "the model fell over" in err["message"], err

    # /forecast goes to the runtime's forecast(), which this backend does not override.
    r = httpx.post(f"{base}/forecast", json={"id": "f", "target": [1], "horizon": 1}, headers=live)
    assert r.status_code == 400, r.text
    assert "does not support forecast" in r.json()["error"]["message"], r.text

    # As a job: the job's body is the input, the output its result.
    endpoint = DataClient.from_env().endpoint(slug, api_key=project.key)
    job = endpoint.submit_job(kind="chat", body={"prompt": "job"})
    done = job.wait(timeout=120)
    assert done["status"] == "succeeded", done
    assert done["result"] == {"text": "JOB!"}


def test_a_workload_naming_an_unpublished_backend_is_refused(project: Project) -> None:
    mgmt = ManagementClient.from_env()
    with pytest.raises(ValidationError) as e:
        mgmt.ensure(
            WorkloadSpec(
                name="ghost",
                slug="ghost-" + uuid.uuid4().hex[:6],
                model="m",
                backend="nobody-published-this",
            )
        )
    assert e.value.field == "backend"
    assert "inferencekey backend publish" in str(e.value)


def test_a_task_type_other_than_the_backends_is_refused(project: Project, tmp_path: Path) -> None:
    slug = "shout-" + uuid.uuid4().hex[:8]
    src = write_backend(tmp_path / "src", slug)
    archive = tmp_path / "p.tar.gz"
    assert cli(project, "backend", "package", str(src), "-o", str(archive)).returncode == 0
    ManagementClient.from_env().publish_backend(archive)
    with pytest.raises(ValidationError) as e:
        ManagementClient.from_env().ensure(
            WorkloadSpec(name="x", slug=slug, model="m", backend=slug, task_type="embedding")
        )
    assert e.value.field == "task_type"
    assert "text2text" in str(e.value)


def test_packaging_names_the_bad_manifest_key(project: Project, tmp_path: Path) -> None:
    src = write_backend(tmp_path / "src", "fine", entrypoint="no-colon", sdk_protocol="2")
    out = cli(project, "backend", "package", str(src), "-o", str(tmp_path / "x.tar.gz"))
    assert out.returncode == 1
    assert "entrypoint" in out.stderr and "sdk_protocol" in out.stderr, out.stderr
    (src / "manifest.json").unlink()
    out = cli(project, "backend", "package", str(src), "-o", str(tmp_path / "x.tar.gz"))
    assert out.returncode == 1 and "has no manifest.json" in out.stderr, out.stderr


@pytest.mark.parametrize(
    ("members", "links", "words"),
    [
        (
            {"manifest.json": GOOD_MANIFEST, "requirements.txt": b"", "../evil.py": b""},
            None,
            "`..`",
        ),
        (
            {"manifest.json": GOOD_MANIFEST, "requirements.txt": b"", "/etc/evil": b""},
            None,
            "absolute",
        ),
        (
            {"manifest.json": GOOD_MANIFEST, "requirements.txt": b""},
            {"tiny.py": "/etc/passwd"},
            "symbolic link",
        ),
        ({"requirements.txt": b"", "tiny.py": b""}, None, "no manifest.json"),
        ({"manifest.json": GOOD_MANIFEST, "tiny.py": b""}, None, "no requirements.txt"),
    ],
)
def test_bad_packages_are_refused_naming_the_member(
    project: Project, members: dict[str, bytes], links: dict[str, str] | None, words: str
) -> None:
    r = publish_raw(project, tarball(members, links))
    assert r.status_code == 400, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_failed" and err["field"] == "file", err
    assert words in err["message"], err


def test_a_package_over_the_json_routes_limit_is_taken(project: Project) -> None:
    """The publish route has its own body bound (64 MiB), above the 1 MiB of the JSON routes."""
    manifest = json.loads(GOOD_MANIFEST) | {"slug": "big-" + uuid.uuid4().hex[:8]}
    archive = tarball(
        {
            "manifest.json": json.dumps(manifest).encode(),
            "requirements.txt": b"",
            "weights.bin": os.urandom(3 << 20),
        }
    )
    assert len(archive) > 3 << 20
    r = publish_raw(project, archive)
    assert r.status_code == 201, r.text
    assert r.json()["size_bytes"] == len(archive)


def test_publish_checks_the_manifest_parts_and_the_token(project: Project) -> None:
    archive = tarball({"manifest.json": GOOD_MANIFEST, "requirements.txt": b"", "tiny.py": b""})
    r = publish_raw(project, archive, version="2")
    assert r.status_code == 400 and r.json()["error"]["field"] == "version", r.text
    bad = json.loads(GOOD_MANIFEST) | {"task_type": "chat"}
    r = publish_raw(
        project,
        tarball({"manifest.json": json.dumps(bad).encode(), "requirements.txt": b""}),
    )
    assert r.status_code == 400 and r.json()["error"]["field"] == "manifest.task_type", r.text
    r = publish_raw(project, tarball({"manifest.json": b"{oops", "requirements.txt": b""}))
    assert r.status_code == 400 and r.json()["error"]["field"] == "manifest.json", r.text
    r = httpx.post(
        f"{project.manager.url}/api/tenants/tnt_local/custom-backends",
        headers={"Authorization": f"Bearer {project.key}"},
        files={"file": ("p.tar.gz", archive, "application/gzip")},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "wrong_credential_type", r.text
    r = httpx.get(
        f"{project.manager.url}/api/tenants/tnt_other/custom-backends",
        headers=sdk_headers(project),
    )
    assert r.status_code == 403, r.text


def test_the_async_client_publishes_and_lists_the_same_way(
    project: Project, tmp_path: Path
) -> None:
    import asyncio

    from inferencekey.aio import AsyncManagementClient

    slug = "shout-" + uuid.uuid4().hex[:8]
    src = write_backend(tmp_path / "src", slug)
    archive = tmp_path / "p.tar.gz"
    assert cli(project, "backend", "package", str(src), "-o", str(archive)).returncode == 0

    async def go() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        client = AsyncManagementClient.from_env()
        first = await client.publish_backend(archive)
        return first, await client.list_backends()

    first, listed = asyncio.run(go())
    assert first["slug"] == slug
    assert [b["id"] for b in listed if b["slug"] == slug] == [first["id"]]
    # The same bytes from the blocking client: the first record again.
    assert ManagementClient.from_env().publish_backend(archive)["id"] == first["id"]


def test_a_package_needing_another_python_ends_in_error_saying_so(
    project: Project, tmp_path: Path
) -> None:
    slug = "future-" + uuid.uuid4().hex[:8]
    src = write_backend(tmp_path / "src", slug, requires_python=">=99")
    archive = tmp_path / "p.tar.gz"
    assert cli(project, "backend", "package", str(src), "-o", str(archive)).returncode == 0
    mgmt = ManagementClient.from_env()
    mgmt.publish_backend(archive)
    mgmt.ensure(WorkloadSpec(name="future", slug=slug, model="none", backend=slug))
    events = list(mgmt.readiness_events(slug))
    last = events[-1]
    assert last["phase"] == "error", events
    assert "needs Python >=99" in last["message"], last


def tiny_wheel(path: Path) -> None:
    """A pure-Python wheel of `tinydep` 1.0, made by hand so pip installs it with no index."""
    import base64
    import hashlib
    import zipfile

    files = {
        "tinydep/__init__.py": b"GREETING = 'from tinydep'\n",
        "tinydep-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tinydep\nVersion: 1.0\n",
        "tinydep-1.0.dist-info/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append("tinydep-1.0.dist-info/RECORD,,")
    files["tinydep-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def test_requirements_are_installed_into_the_packages_own_venv(
    project: Project, tmp_path: Path
) -> None:
    """A non-empty requirements.txt is pip-installed into the package's venv (here a wheel the
    package ships, so no index is needed), and the backend imports it; the Manager's own
    environment does not have it."""
    slug = "deps-" + uuid.uuid4().hex[:8]
    src = write_backend(tmp_path / "src", slug)
    (src / "vendor").mkdir()
    tiny_wheel(src / "vendor" / "tinydep-1.0-py3-none-any.whl")
    (src / "requirements.txt").write_text("--no-index\n./vendor/tinydep-1.0-py3-none-any.whl\n")
    (src / "shout.py").write_text(
        "import tinydep\n"
        "from inferencekey.custom_backend import CustomBackend\n\n\n"
        "class Shout(CustomBackend):\n"
        "    def process(self, input):\n"
        "        return {'text': tinydep.GREETING}\n"
    )
    with pytest.raises(ImportError):
        import tinydep  # noqa: F401
    archive = tmp_path / "p.tar.gz"
    assert cli(project, "backend", "package", str(src), "-o", str(archive)).returncode == 0
    mgmt = ManagementClient.from_env()
    mgmt.publish_backend(archive)
    mgmt.ensure(WorkloadSpec(name="deps", slug=slug, model="none", backend=slug))
    ready = mgmt.wait_until_ready(slug, timeout=240)
    assert ready["phase"] == "ready", ready
    r = httpx.post(
        f"{project.manager.url}/endpoint/{project.slug}/{slug}/v1/predict",
        json={},
        headers={"Authorization": f"Bearer {project.key}"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"text": "from tinydep"}
