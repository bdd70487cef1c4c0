"""Atomic file output: a reader never sees a half-written file, a crash leaves the old one.

Every failure to write (read-only file system, disk full, a file where a folder should be, no
permission) becomes one `OutputError` naming the path and what to do; the temporary file is removed
whatever happens, Ctrl-C included. `ensure_not_input` keeps `-o` from overwriting an input.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from pipeline.errors import OutputError, UsageError

_REASONS = {
    errno.EROFS: "文件系统是只读的",
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "磁盘配额已用完",
    errno.ENOTDIR: "路径中有一段是文件而不是文件夹",
    errno.EISDIR: "这是一个已存在的文件夹",
    errno.EACCES: "没有写入权限",
    errno.EPERM: "没有写入权限",
    errno.ENAMETOOLONG: "文件名太长",
    errno.EEXIST: "路径中有一段是文件而不是文件夹",
}


def output_error(exc: OSError, path: str | os.PathLike) -> OutputError:
    """An OSError from writing `path` as a one-line Chinese error that says what to do."""
    reason = _REASONS.get(exc.errno or 0) or (exc.strerror or type(exc).__name__)
    return OutputError(f"无法写出：{reason}。请换一个可写的位置（用 -o 指定），或腾出空间、检查权限后重试。",
                       path=str(path))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    return atomic_write_parts(path, (data,))


def atomic_write_parts(path: str | os.PathLike, parts: Iterable[bytes | memoryview]) -> Path:
    """`atomic_write_bytes` of the parts one after another, made as they are written (a large
    file need not exist in memory twice)."""
    target = Path(path)
    if target.is_dir():
        raise OutputError("无法写出：这是一个已存在的文件夹。请给出文件名（如 result.json）。", path=str(target))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise output_error(exc, target) from exc
    try:
        # mkstemp creates 0600; give the file the mode a plain open() would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            for part in parts:
                handle.write(part)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise output_error(exc, target) from exc
        raise
    return target


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    return atomic_write_bytes(path, text.encode(encoding))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when `a` and `b` name one file: the same resolved path, or the same inode (a hard link)."""
    try:
        if Path(a).resolve() == Path(b).resolve():
            return True
        return os.path.samefile(a, b)
    except OSError:
        return False


def ensure_not_input(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike | None]) -> None:
    """Refuse (exit 2) an output that would overwrite one of the command's inputs."""
    named = [p for p in inputs if p is not None]
    for output in outputs:
        for source in named:
            if same_file(output, source):
                raise UsageError(f"输出文件 {output} 就是输入文件 {source}（同一路径或硬链接），写出会覆盖输入。"
                                 "请用 -o 另选一个文件名。")
