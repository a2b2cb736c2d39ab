"""Fetch a benchmark's files, verify them, and unpack them into a benchmark root.

Each file of the sources registry is obtained the way its host allows: plain HTTPS (resumable,
with retries), Google Drive (``gdown``), the Hugging Face hub (``huggingface_hub``), or from an
archive the user already has (``--archive``; CodaLab downloads need a login). Every file is
checked against its published size and sha256 where one exists; a mismatch is never used (the
bad file is kept aside as ``*.corrupt``). Downloads land in ``<root>/downloads/``; archives are
unpacked with :mod:`reasonvos.acquire.extract`, whose marker makes a second run a no-op. A run
installs all of its files or none (see :func:`download_benchmark`). ``--mirror`` /
``$REASONVOS_MIRROR`` points every plain HTTP source at another host, keeping the path.
"""

from __future__ import annotations

import json
import os
import re
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from tqdm import tqdm

from reasonvos.acquire.extract import (
    CorruptArchiveError,
    ExtractLimits,
    Installation,
    archive_kind,
    is_extracted,
    not_an_archive,
    sha256_file,
)
from reasonvos.acquire.sources import BenchmarkSource, SourceFile, Variant, get_source
from reasonvos.errors import DownloadError, InputError
from reasonvos.fileio import read_json, write_json_atomic

_CHUNK = 1 << 20
VERIFIED = ".verified.json"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: ``attempts`` in all, sleeping ``base_delay * 2**k`` (capped) in between."""

    attempts: int = 5
    base_delay: float = 2.0
    max_delay: float = 60.0
    timeout: float = 60.0  # seconds to wait for the server between bytes


class _Transient(Exception):
    """A failure worth retrying (5xx, reset connection, timeout, transfer cut short)."""


class _LocalFailure(DownloadError):
    """This machine could not store the download (disk full, no permission): no URL will help."""


def _one_line(e: BaseException) -> str:
    """An exception's text on one line (hub and HTTP client errors span several)."""
    return " ".join(str(e).split()) or type(e).__name__


def _manual_hint(name: str, where: str) -> str:
    return f"download {name} manually from {where} and pass it with --archive FILE"


# ----------------------------------------------------------------------------- verification


def _verified_records(folder: Path) -> dict:
    path = folder / VERIFIED
    if not path.is_file():
        return {}
    data = read_json(path, "download record")
    return data if isinstance(data, dict) else {}


def is_verified(path: Path, sha256: str | None) -> str | None:
    """The recorded sha256 if ``path`` was verified before and is unchanged since, else None."""
    rec = _verified_records(path.parent).get(path.name)
    if not rec or not path.is_file():
        return None
    st = path.stat()
    if rec.get("size") != st.st_size or rec.get("mtime_ns") != st.st_mtime_ns:
        return None
    if sha256 is not None and rec.get("sha256") != sha256:
        return None
    return rec.get("sha256")


def _record_verified(path: Path, sha256: str, self_recorded: bool) -> None:
    records = _verified_records(path.parent)
    st = path.stat()
    records[path.name] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256,
                          "self_recorded": self_recorded}
    write_json_atomic(path.parent / VERIFIED, records)


def verify_file(path: Path, size: int | None, sha256: str | None, *, what: str,
                expect_archive: bool = False, keep_aside: bool = True, name: str | None = None,
                digest: str | None = None) -> str:
    """Check size, sha256 and (if asked) that it is an archive; return the sha256.

    A failing download is renamed ``<name>.corrupt`` (replacing an older one) so it is never
    used again; a user's own file (``keep_aside=False``) is left alone.
    """
    problem = None
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        problem = f"has {actual_size} bytes, expected {size}"
    else:
        digest = digest or sha256_file(path)
        if sha256 is not None and digest != sha256:
            problem = f"sha256 is {digest}, expected the published {sha256}"
        elif expect_archive:
            try:
                archive_kind(path)
            except CorruptArchiveError as e:
                problem = e.problem.removesuffix("; download it again")
            except InputError as e:
                problem = e.problem
                if "web page" in problem:
                    problem += " (quota exceeded, access denied or a moved link?)"

    if problem is None:
        return digest
    if keep_aside:
        corrupt = path.with_name((name or path.name) + ".corrupt")
        os.replace(path, corrupt)
        raise DownloadError(path.with_name(name or path.name), f"{what} {problem}; the bad file was moved to {corrupt.name} and will not be used")
    raise DownloadError(path, f"{what} {problem}")


# ------------------------------------------------------------------------------------- HTTP


def _content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``(first, last, total)`` of a ``Content-Range: bytes first-last/total`` header (total None for ``*``)."""
    m = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", (value or "").strip())
    if not m:
        return None
    return int(m.group(1)), int(m.group(2)), None if m.group(3) == "*" else int(m.group(3))


def _read_origin(path: Path) -> dict:
    """The record beside a ``.part`` file (URL, ETag, Last-Modified, length); {} if absent or unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _if_range(state: dict) -> str | None:
    """The validator to send as If-Range: a strong ETag, else Last-Modified (weak ETags are not allowed)."""
    etag = _text(state.get("etag"))
    return etag if etag and not etag.startswith("W/") else _text(state.get("last_modified"))


def _changed(state: dict, headers: requests.structures.CaseInsensitiveDict, total: int | None) -> str | None:
    """Why a 206 reply is not a tail of the version the partial bytes came from (None if it is).

    A server may ignore If-Range and answer 206 anyway, so the reply's own validators and total
    are compared with those of the first reply; with no validator to compare, a total of ``*``
    proves nothing, and the download starts over rather than risk splicing two versions.
    """
    known = state.get("total")
    if isinstance(known, int) and total is not None and total != known:
        return f"{total} bytes, was {known}"
    etag, modified = _text(state.get("etag")), _text(state.get("last_modified"))
    if etag and headers.get("ETag") != etag:
        return f"ETag {headers.get('ETag') or '(none)'}, was {etag}"
    if modified and headers.get("Last-Modified") not in (None, modified):
        return f"Last-Modified {headers.get('Last-Modified')}, was {modified}"
    if total is None and not (etag or modified):
        return "the reply gives neither the file's length nor a version tag to compare"
    return None


def _network_problem(e: requests.RequestException, url: str) -> str:
    """The gist of a connection failure (requests' own text nests three exception reprs)."""
    host = urlsplit(url).netloc
    if isinstance(e, requests.Timeout):
        return f"no answer from {host} within the timeout"
    m = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(e))
    if m:
        return f"cannot reach {host} ({m.group(1).strip()})"
    inner = re.findall(r"(\w+)\((['\"])(.*?)\2\)", str(e))  # e.g. RemoteDisconnected('Remote end closed ...')
    if inner:
        return f"{host} broke the connection ({inner[-1][0]}: {inner[-1][2].strip()})"
    return f"{type(e).__name__}: {_one_line(e)}"


def _framed(resp: requests.Response) -> bool:
    """Whether the reply says where its body ends (Content-Length, or chunked framing, whose last
    chunk urllib3 insists on): only then is a connection closed early told apart from the end."""
    if (resp.headers.get("Content-Length") or "").isdigit():
        return True
    return "chunked" in (resp.headers.get("Transfer-Encoding") or "").lower()


def _http_attempt(session: requests.Session, url: str, part: Path, size: int | None, sha256: str | None,
                  expect_archive: bool, policy: RetryPolicy, quiet: bool) -> None:
    """One request: resume ``part`` from its current length; raise _Transient to be retried.

    A resume is asked for only when the partial bytes' version can be recognised (an If-Range
    validator, or at least the length the first reply announced), and a 206 reply is used only
    if it starts where ``part`` ends and carries the same validators and length.
    """
    origin = part.with_name(part.name + ".url")  # where and from which version the partial bytes came
    state = _read_origin(origin)
    if part.is_symlink():
        part.unlink()  # ours to write, never through a link to somewhere else
    # never splice bytes from two servers: another URL's partial bytes are not resumed here (they are
    # overwritten only once this URL sends the file, so a dead fallback URL costs no progress)
    offset = part.stat().st_size if part.exists() and state.get("url") == url else 0
    validator = _if_range(state)
    if offset and ((size is not None and offset > size) or (validator is None and not isinstance(state.get("total"), int))):
        part.unlink()  # too long for the published size, or nothing to recognise its version by
        offset = 0
    headers = {"Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        if validator:
            headers["If-Range"] = validator  # a changed file comes back whole (200), not as a tail
    try:
        resp = session.get(url, headers=headers, stream=True, timeout=(policy.timeout, policy.timeout))
    except (requests.ConnectionError, requests.Timeout) as e:
        raise _Transient(_network_problem(e, url)) from e
    except requests.RequestException as e:  # too many redirects, a malformed URL: retrying will not help
        raise DownloadError(None, f"{type(e).__name__}: {_one_line(e)}") from e
    with resp:
        status = resp.status_code
        if status == 416 and size is not None and offset == size:
            return  # already complete
        if status == 416 and not offset:
            raise DownloadError(None, f"HTTP 416 {resp.reason} from {url} to a request for the whole file")
        if status == 416:
            part.unlink(missing_ok=True)
            raise _Transient("server refused the resume range; starting over")
        if status >= 500 or status in (408, 425, 429):
            raise _Transient(f"HTTP {status} {resp.reason}")
        if status >= 400:
            raise DownloadError(None, f"HTTP {status} {resp.reason} from {url}")
        if status not in (200, 206):
            raise DownloadError(None, f"HTTP {status} {resp.reason} from {url} (expected the file)")
        rng = _content_range(resp.headers.get("Content-Range")) if status == 206 else None
        total: int | None = None
        mode = "ab"
        if status == 206 and offset:
            if rng is None or rng[0] != offset:
                part.unlink(missing_ok=True)
                raise _Transient(f"server answered the wrong range ({resp.headers.get('Content-Range')})")
            changed = _changed(state, resp.headers, rng[2])
            if changed:
                part.unlink(missing_ok=True)
                raise _Transient(f"the file changed on the server ({changed}); starting over")
            total = rng[2]
        else:
            if status == 206 and not (rng and rng[0] == 0 and rng[2] is not None and rng[1] == rng[2] - 1):
                raise DownloadError(None, f"HTTP 206 from {url} sent part of the file "
                                          f"(Content-Range {resp.headers.get('Content-Range')}) when all of it was asked for")
            mode, offset = "wb", 0  # a 200 ignores our Range: start over
            length = resp.headers.get("Content-Length")
            total = rng[2] if rng else int(length) if length and length.isdigit() else None
            write_json_atomic(origin, {"url": url, "etag": resp.headers.get("ETag"),
                                       "last_modified": resp.headers.get("Last-Modified"), "total": total})
        framed = _framed(resp) or total is not None
        total = total if total is not None else size
        try:
            with open(part, mode) as f, tqdm(total=total, initial=offset, unit="B", unit_scale=True,
                                             desc=part.name[: -len(".part")], disable=quiet) as bar:
                # read1 hands over every byte that arrived, so a cut costs nothing already received
                blocks = iter(lambda: resp.raw.read1(_CHUNK), b"")
                got = offset
                while True:
                    try:
                        block = next(blocks)
                    except StopIteration:
                        break
                    except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as e:
                        raise _Transient(f"transfer interrupted: cut short at {got} of {total or '?'} bytes "
                                         f"({type(e).__name__})") from e
                    f.write(block)
                    got += len(block)
                    bar.update(len(block))
        except OSError as e:  # disk full, no permission: retrying will not help
            raise _LocalFailure(part, f"cannot write the download: {e.strerror or e}") from e
    got = part.stat().st_size
    if total is not None and got < total:
        raise _Transient(f"transfer cut short at {got} of {total} bytes")
    if total is not None and got > total:
        part.unlink()
        raise _Transient(f"the server sent {got} bytes, more than the {total} it announced; starting over")
    if not framed and size is None and sha256 is None and not (expect_archive and zipfile.is_zipfile(part)):
        # a zip's directory sits at its very end, so only a complete zip passes the test above
        with open(part, "rb") as f:
            arrived = not_an_archive(f.read(1024))[0].removesuffix("; download it again") if expect_archive else ""
        part.unlink()
        raise DownloadError(None, "the server sent no length (no valid Content-Length, not chunked), so a cut transfer "
                                  "cannot be told from the end, and no size or sha256 is published to check it"
                                  + (f"; what arrived {arrived}" if arrived else ""))


def http_download(urls: Sequence[str], dest: Path, *, size: int | None = None, sha256: str | None = None,
                  policy: RetryPolicy | None = None, quiet: bool = False, expect_archive: bool = False,
                  session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep,
                  manual_from: str | None = None) -> str:
    """Download ``dest`` (trying ``urls`` in order) through ``dest.part`` with resume and retries.

    Proxies come from the usual environment variables (requests' ``trust_env``). Returns the sha256.
    ``manual_from`` is the page a failure message sends the user to (default: the first URL).
    """
    policy = policy or RetryPolicy()
    dest.parent.mkdir(parents=True, exist_ok=True)
    known = is_verified(dest, sha256)
    if known:
        return known
    part = dest.with_name(dest.name + ".part")
    session = session or requests.Session()
    errors: list[str] = []
    for url in urls:
        ok, last = False, ""
        for attempt in range(policy.attempts):
            try:
                _http_attempt(session, url, part, size, sha256, expect_archive, policy, quiet)
                ok = True
                break
            except _Transient as e:
                last = f"failed after {attempt + 1} attempts (last error: {e})"
                if attempt + 1 < policy.attempts:
                    sleep(min(policy.max_delay, policy.base_delay * 2**attempt))
            except _LocalFailure:
                raise
            except DownloadError as e:
                last = e.problem
                break
        if not ok:
            errors.append(f"{url}: {last.rstrip('.')}")
            continue
        try:
            digest = verify_file(part, size, sha256, what=f"download of {dest.name}", expect_archive=expect_archive,
                                 name=dest.name)
        except DownloadError as e:  # a bad file at one URL (a moved page, a stale mirror): try the next
            errors.append(f"{url}: {e.problem}")
            continue
        os.replace(part, dest)
        part.with_name(part.name + ".url").unlink(missing_ok=True)
        _record_verified(dest, digest, self_recorded=sha256 is None)
        return digest
    raise DownloadError(dest, "; ".join(errors) + f". {_manual_hint(dest.name, manual_from or (urls[0] if urls else '?'))}")


# ------------------------------------------------------------------------- Drive and the hub


def gdrive_download(file_id: str, dest: Path, *, size: int | None = None, sha256: str | None = None,
                    policy: RetryPolicy | None = None, quiet: bool = False, expect_archive: bool = True) -> str:
    """Download one public Drive file with gdown (which handles the confirm page), then verify."""
    import gdown
    import gdown.exceptions

    policy = policy or RetryPolicy()
    known = is_verified(dest, sha256)
    if known:
        return known
    dest.parent.mkdir(parents=True, exist_ok=True)
    page = f"https://drive.google.com/file/d/{file_id}/view"
    try:
        gdown.download(id=file_id, output=str(dest), quiet=quiet, resume=True,
                       retries=max(policy.attempts - 1, 0), timeout=policy.timeout)
    except (gdown.exceptions.DownloadError, requests.RequestException, OSError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DownloadError(dest, f"Google Drive download failed ({first}); large public files often hit "
                                  f"Drive's quota: {_manual_hint(dest.name, page)}") from e
    if not dest.is_file():
        raise DownloadError(dest, f"Google Drive gave no file; {_manual_hint(dest.name, page)}")
    try:
        digest = verify_file(dest, size, sha256, what=f"download of {dest.name}", expect_archive=expect_archive)
    except DownloadError as e:
        raise DownloadError(dest, f"{e.problem}; {_manual_hint(dest.name, page)}") from e
    _record_verified(dest, digest, self_recorded=sha256 is None)
    return digest


def gdrive_folder_download(folder_id: str, dest: Path, *, policy: RetryPolicy | None = None,
                           quiet: bool = False) -> list[Path]:
    import gdown
    import gdown.exceptions

    policy = policy or RetryPolicy()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        files = gdown.download_folder(id=folder_id, output=str(dest), quiet=quiet, resume=True,
                                      retries=max(policy.attempts - 1, 0), timeout=policy.timeout)
    except (gdown.exceptions.DownloadError, requests.RequestException, OSError) as e:
        url = f"https://drive.google.com/drive/folders/{folder_id}"
        raise DownloadError(dest, f"Google Drive folder download failed ({_one_line(e)}); fetch it from {url}") from e
    return [Path(f) for f in files or []]


def _hub_errors() -> tuple[type[BaseException], ...]:
    from huggingface_hub import errors

    return (errors.HfHubHTTPError, errors.LocalEntryNotFoundError, errors.EntryNotFoundError,
            requests.RequestException, OSError, ValueError)


def hub_download(repo: str, path: str, local_dir: Path, *, endpoint: str | None = None,
                 size: int | None = None, sha256: str | None = None) -> tuple[Path, str]:
    """One file of a Hugging Face dataset repo (the hub client resumes and checks transfers)."""
    from huggingface_hub import hf_hub_download

    known = is_verified(local_dir / path, sha256)
    if known:  # verified before and unchanged: no need to ask the hub again
        return local_dir / path, known
    try:
        local = Path(hf_hub_download(repo, path, repo_type="dataset", local_dir=local_dir, endpoint=endpoint))
    except _hub_errors() as e:
        raise DownloadError(local_dir / path, f"Hugging Face download of {repo}/{path} failed ({_one_line(e)}); "
                            f"{_manual_hint(path, f'https://huggingface.co/datasets/{repo}')}") from e
    known = is_verified(local, sha256)
    if known:
        return local, known
    digest = verify_file(local, size, sha256, what=f"{repo}/{path}")
    _record_verified(local, digest, self_recorded=sha256 is None)
    return local, digest


def hub_folder_download(repo: str, patterns: Sequence[str], local_dir: Path, *,
                        endpoint: str | None = None) -> list[tuple[Path, str]]:
    """Every file of a dataset repo matching ``patterns`` (used where the file list is UNVERIFIED).

    The repo is listed first and each file fetched on its own: ``snapshot_download`` would
    quietly return what is already on disk when the hub cannot be reached.
    """
    import fnmatch

    from huggingface_hub import HfApi

    try:
        names = HfApi(endpoint=endpoint).list_repo_files(repo, repo_type="dataset")
    except _hub_errors() as e:
        raise DownloadError(local_dir, f"cannot list the Hugging Face dataset {repo} ({_one_line(e)})") from e
    wanted = sorted(n for n in names if any(fnmatch.fnmatch(n, pat) for pat in patterns))
    return [hub_download(repo, n, local_dir, endpoint=endpoint) for n in wanted]


# ---------------------------------------------------------------------------------- mirror

MIRROR_ENV = "REASONVOS_MIRROR"


def check_mirror(value: str, where: str = "--mirror") -> str:
    """A mirror base URL ``http(s)://host[:port][/prefix]``, without a trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InputError(None, f"{where} {value!r} is not a mirror URL of the form http(s)://host[:port][/prefix]")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def mirror_url(url: str, mirror: str) -> str:
    """``url`` with its scheme and host (and the mirror's path prefix) taken from ``mirror``;
    its own path and query are kept, as ``HF_ENDPOINT`` does for the hub."""
    u, m = urlsplit(url), urlsplit(mirror)
    return urlunsplit((m.scheme, m.netloc, m.path.rstrip("/") + (u.path or "/"), u.query, ""))


def resolve_mirror(mirror: str | None) -> str | None:
    """The mirror to use: the one given, else ``$REASONVOS_MIRROR`` (empty = none), checked."""
    if mirror is not None:
        return check_mirror(mirror)
    env = os.environ.get(MIRROR_ENV, "").strip()
    return check_mirror(env, MIRROR_ENV) if env else None


# ---------------------------------------------------------------------------------- install


def install_file(src: Path, dest: Path) -> None:
    """Put a downloaded plain file where the benchmark layout wants it (hard link, else copy)."""
    with Installation() as inst:
        if inst.stage_file(src, dest):
            inst.commit()


def _stage(inst: Installation, local: Path, sha: str, entry: SourceFile, root: Path, limits: ExtractLimits,
           quiet: bool, rel: str | None = None) -> str:
    """Stage an archive's content or a plain file for its place under ``root``; return a one-line summary."""
    is_archive = entry.archive is not None or local.suffix in (".zip", ".tar", ".tgz") or local.name.endswith(".tar.gz")
    if is_archive:
        if entry.extract_to is not None:
            target = root / entry.extract_to
        else:  # a hub folder: the archive's own folder
            target = root / Path(rel or local.name).parent
        markers = entry.layout_markers or (("JPEGImages",) if entry.method == "hf_folder" else ())
        # a JPEGImages.tar may hold the video folders without the JPEGImages/ wrapper (UNVERIFIED)
        stem = local.name.split(".")[0]
        fallback = stem if stem in markers else None
        if is_extracted(target, local.name, sha):
            return f"{local.name} already extracted in {target}"
        inst.stage_archive(local, target, layout_markers=markers, fallback_subdir=fallback, sha256=sha,
                           limits=limits, quiet=quiet)
        return f"{local.name} -> {target}"
    dest = root / (rel if rel is not None else (entry.dest or local.name))
    inst.stage_file(local, dest)
    return f"{local.name} -> {dest}"


# ------------------------------------------------------------------------------------ driver


@dataclass
class DownloadResult:
    """What a download run did, for the command to print."""

    benchmark: str
    variant: str
    root: Path
    done: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _archive_entry(variant: Variant, path: Path, sha_of: Callable[[Path], str]) -> SourceFile | None:
    for entry in variant.files:
        if entry.matches_name(path.name):
            return entry
    for entry in variant.files:
        if entry.sha256 is not None and entry.sha256 == sha_of(path):
            return entry
    return None


def _pick_variant(source: BenchmarkSource, archives: Sequence[Path], wanted: str | None,
                  sha_of: Callable[[Path], str]) -> Variant:
    if wanted or not archives:
        return source.variant(wanted)
    candidates = [source.variant()] + [v for n, v in source.variants.items() if n != source.default_variant]
    for variant in candidates:
        if all(_archive_entry(variant, a, sha_of) for a in archives):
            return variant
    expected = sorted({e.name for v in source.variants.values() for e in v.files})
    raise InputError(archives[0], f"not a known file of {source.name}; expected one of: {', '.join(expected)}")


def confirm_licence(source: BenchmarkSource, accepted: bool, ask: Callable[[str], bool] | None,
                    out: Callable[[str], None] = print) -> None:
    """Show the licence; go on only if accepted by flag or by answer (non-interactive: flag only)."""
    out(f"{source.title}: licence\n  {source.licence}")
    if accepted:
        return
    if ask is not None and ask("Do you accept these terms? [y/N] "):
        return
    raise InputError(None, f"the {source.name} licence was not accepted; read it above and pass --accept-licence")


def download_benchmark(
    name: str,
    root: str | Path,
    *,
    archives: Sequence[str | Path] = (),
    variant: str | None = None,
    accept_licence: bool = False,
    ask: Callable[[str], bool] | None = None,
    with_optional: bool = False,
    quiet: bool = False,
    policy: RetryPolicy | None = None,
    limits: ExtractLimits | None = None,
    hub_endpoint: str | None = None,
    mirror: str | None = None,
    out: Callable[[str], None] = print,
) -> DownloadResult:
    """Download (or take from ``archives``), verify and unpack benchmark ``name`` into ``root``.

    All or nothing: every archive is unpacked into a staging folder and every published member
    checksum checked there before anything is moved into ``root``; a failure leaves ``root`` as it
    was (only the download cache ``root/downloads`` keeps what was fetched, for the next run).
    ``mirror`` (default ``$REASONVOS_MIRROR``) replaces scheme and host of every plain HTTP source.
    """
    source = get_source(name)
    root = Path(root)
    limits = limits or ExtractLimits()
    mirror = resolve_mirror(mirror)
    paths = [Path(a) for a in archives]
    for p in paths:
        if not p.is_file():
            raise InputError(p, "archive given with --archive not found")
    shas: dict[Path, str] = {}

    def sha_of(p: Path) -> str:
        if p not in shas:
            shas[p] = sha256_file(p)
        return shas[p]

    chosen = _pick_variant(source, paths, variant, sha_of)
    supplied: dict[str, list[Path]] = {}
    for p in paths:
        entry = _archive_entry(chosen, p, sha_of)
        if entry is None:
            raise InputError(p, f"not a file of {name} {chosen.name}; expected one of: "
                                f"{', '.join(e.name for e in chosen.files)}")
        if supplied.get(entry.name) and not entry.multiple:
            raise InputError(p, f"more than one file given for {entry.name}")
        supplied.setdefault(entry.name, []).append(p)
    missing = [e for e in chosen.files if e.required and not e.automatic and e.name not in supplied]
    if missing:
        raise DownloadError(None, f"{name} ({chosen.name}) needs files that only you can download (login required): "
                            + "; ".join(f"{e.name} from {e.where_to_get()}" for e in missing)
                            + ". Pass each with --archive FILE")
    confirm_licence(source, accept_licence, ask, out)
    result = DownloadResult(name, chosen.name, root)
    if mirror and any(e.method == "http" and e.name not in supplied for e in chosen.files):
        result.notes.append(f"plain HTTP sources fetched from the mirror {mirror}")
    downloads = root / "downloads"
    done: list[str] = []
    with Installation() as inst:
        for entry in chosen.files:
            if entry.name in supplied:
                for p in supplied[entry.name]:
                    if entry.size is not None and p.stat().st_size != entry.size:
                        raise DownloadError(p, f"has {p.stat().st_size} bytes, expected {entry.size} for {entry.name}")
                    verify_file(p, None, entry.sha256, what=f"{p.name} (given as {entry.name})", keep_aside=False,
                                digest=sha_of(p))
                    done.append(_stage(inst, p, sha_of(p), entry, root, limits, quiet))
                continue
            if not entry.automatic:
                result.notes.append(f"skipped optional {entry.name} (get it from {entry.where_to_get()} "
                                    f"and pass --archive): {entry.contents}")
                continue
            if not entry.required and not with_optional and entry.method == "gdrive_folder":
                result.notes.append(f"skipped optional {entry.name} (use --with-optional): {entry.contents}")
                continue
            done.extend(_fetch_entry(inst, entry, root, downloads, policy, limits, quiet, hub_endpoint, mirror,
                                     result))
        checked = _check_members(chosen, root, inst, result.notes)
        inst.commit()
    for path, digest in checked:
        _record_verified(path, digest, self_recorded=False)
    result.done.extend(done)
    return result


def _stage_download(inst: Installation, dest: Path, sha: str, entry: SourceFile, root: Path, limits: ExtractLimits,
                    quiet: bool) -> str:
    """Stage a file we downloaded; if it proves corrupt and no checksum vouches for it, move it
    aside and forget its self-recorded sha256, so the next run downloads it again."""
    try:
        return _stage(inst, dest, sha, entry, root, limits, quiet)
    except CorruptArchiveError as e:
        if entry.sha256 is not None:  # the published checksum matched: downloading again cannot help
            raise
        records = _verified_records(dest.parent)
        if records.pop(dest.name, None) is not None:
            write_json_atomic(dest.parent / VERIFIED, records)
        corrupt = dest.with_name(dest.name + ".corrupt")
        os.replace(dest, corrupt)
        raise DownloadError(dest, f"{e.problem.removesuffix('; download it again')}; it was moved to "
                                  f"{corrupt.name}, so the next run downloads it afresh") from e


def _fetch_entry(inst: Installation, entry: SourceFile, root: Path, downloads: Path, policy: RetryPolicy | None,
                 limits: ExtractLimits, quiet: bool, hub_endpoint: str | None, mirror: str | None,
                 result: DownloadResult) -> list[str]:
    expect_archive = entry.archive is not None
    if entry.method == "http":
        dest = downloads / Path(entry.name).name
        urls = [mirror_url(u, mirror) for u in entry.urls] if mirror else list(entry.urls)
        sha = http_download(urls, dest, size=entry.size, sha256=entry.sha256, policy=policy, quiet=quiet,
                            expect_archive=expect_archive, manual_from=entry.where_to_get())
        return [_stage_download(inst, dest, sha, entry, root, limits, quiet)]
    if entry.method == "gdrive":
        dest = downloads / Path(entry.name).name
        sha = gdrive_download(entry.gdrive_id or "", dest, size=entry.size, sha256=entry.sha256, policy=policy,
                              quiet=quiet, expect_archive=expect_archive)
        if entry.sha256 is None:
            result.notes.append(f"{dest.name}: sha256 {sha} (none is published; self-recorded in "
                                f"{downloads / VERIFIED})")
        return [_stage_download(inst, dest, sha, entry, root, limits, quiet)]
    hub_dir = downloads / "hub" / (entry.hf_repo or "").replace("/", "__")
    if entry.method == "hf":
        local, sha = hub_download(entry.hf_repo or "", entry.hf_path or entry.name, hub_dir,
                                  endpoint=hub_endpoint, size=entry.size, sha256=entry.sha256)
        return [_stage(inst, local, sha, entry, root, limits, quiet)]
    if entry.method == "hf_folder":
        files = hub_folder_download(entry.hf_repo or "", entry.hf_patterns, hub_dir, endpoint=hub_endpoint)
        if not files:
            msg = f"{entry.hf_repo} has no files matching {', '.join(entry.hf_patterns)}"
            if entry.required:
                raise DownloadError(hub_dir, msg)
            result.notes.append(f"{msg} ({entry.checksum_note})")
            return []
        return [_stage(inst, f, sha, entry, root, limits, quiet, rel=f.relative_to(hub_dir).as_posix())
                for f, sha in files]
    if entry.method == "gdrive_folder":
        files = gdrive_folder_download(entry.gdrive_id or "", downloads / entry.name.rstrip("/"), policy=policy,
                                       quiet=quiet)
        result.notes.append(f"{entry.name}: {len(files)} files kept in {downloads / entry.name.rstrip('/')}; "
                            f"{entry.contents}")
        return []
    raise InputError(None, f"unknown download method {entry.method!r} for {entry.name}")


def _check_members(variant: Variant, root: Path, inst: Installation, notes: list[str]) -> list[tuple[Path, str]]:
    """Check files inside archives whose checksums are published (MeViS v1 mask_dict.json), in the
    staged copy before anything is moved into ``root`` (or in ``root``, from an earlier install).
    Returns the (path, sha256) pairs to record as verified once the copy is in place."""
    checked = []
    for m in variant.members:
        path = root / m.path
        staged = inst.staged_path(path)
        if staged is None and not path.is_file():
            notes.append(f"{m.path} not present, so its published sha256 was not checked")
            continue
        if staged is None and is_verified(path, m.sha256):
            continue
        digest = sha256_file(staged or path)
        if digest != m.sha256:
            raise DownloadError(path, f"sha256 is {digest}, expected the published {m.sha256} ({m.source}): "
                                      "the file is corrupt or not this version, so nothing was installed; "
                                      "download the release again")
        checked.append((path, digest))
    return checked
