"""Thin ``ctypes`` wrappers of the Linux calls the sandbox needs and Python
3.11's ``os`` module lacks: ``unshare``, ``mount``, ``umount2``,
``pivot_root``, ``mount_setattr``, ``prctl`` and ``capset``.

Every wrapper raises ``OSError`` (with ``errno``) on failure, so callers can
fall back cleanly.  Nothing here is specific to the grader.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

__all__ = [
    "CLONE_NEWNS", "CLONE_NEWUTS", "CLONE_NEWIPC", "CLONE_NEWUSER", "CLONE_NEWPID",
    "CLONE_NEWNET", "CLONE_NEWCGROUP", "MS_RDONLY", "MS_NOSUID", "MS_NODEV", "MS_NOEXEC",
    "MS_REMOUNT", "MS_BIND", "MS_REC", "MS_PRIVATE", "MNT_DETACH",
    "MOUNT_ATTR_RDONLY", "MOUNT_ATTR_NOSUID", "MOUNT_ATTR_NODEV", "MOUNT_ATTR_NOEXEC",
    "available", "unshare", "mount", "umount2", "pivot_root", "mount_setattr", "prctl",
    "set_pdeathsig", "set_no_new_privs", "set_dumpable", "set_child_subreaper",
    "drop_capabilities",
]

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18

MNT_DETACH = 2

MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MOUNT_ATTR_NODEV = 0x4
MOUNT_ATTR_NOEXEC = 0x8
_AT_FDCWD = -100
_AT_RECURSIVE = 0x8000

_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_SECUREBITS = 28
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38

#: syscall numbers without a glibc wrapper (mount_setattr is 442 everywhere)
_SYSCALLS = {
    "x86_64": {"pivot_root": 155, "capset": 126, "mount_setattr": 442},
    "aarch64": {"pivot_root": 41, "capset": 91, "mount_setattr": 442},
}

_libc = None


def _lib():
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    return _libc


def available() -> bool:
    """Linux on an architecture whose syscall numbers are known here."""
    return platform.system() == "Linux" and platform.machine() in _SYSCALLS


def _check(result: int, what: str) -> int:
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _syscall(name: str, *args) -> int:
    number = _SYSCALLS.get(platform.machine(), {}).get(name)
    if number is None:
        raise OSError(38, f"{name}: not supported on {platform.machine()}")
    return _check(_lib().syscall(ctypes.c_long(number), *args), name)


def _b(s: str | None):
    return None if s is None else os.fsencode(s)


def unshare(flags: int) -> None:
    _check(_lib().unshare(ctypes.c_int(flags)), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    _check(_lib().mount(_b(source), _b(target), _b(fstype), ctypes.c_ulong(flags), _b(data)),
           f"mount {target}")


def umount2(target: str, flags: int = 0) -> None:
    _check(_lib().umount2(_b(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    _syscall("pivot_root", _b(new_root), _b(put_old))


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def mount_setattr(path: str, set_flags: int = 0, clear_flags: int = 0,
                  recursive: bool = False) -> None:
    """Set/clear ``MOUNT_ATTR_*`` flags on the mount at ``path`` (and every
    mount below it with ``recursive``); Linux >= 5.12."""
    attr = _MountAttr(set_flags, clear_flags, 0, 0)
    _syscall("mount_setattr", ctypes.c_int(_AT_FDCWD), _b(path),
             ctypes.c_uint(_AT_RECURSIVE if recursive else 0), ctypes.byref(attr),
             ctypes.c_size_t(ctypes.sizeof(attr)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return _check(_lib().prctl(ctypes.c_int(option), ctypes.c_ulong(arg2), ctypes.c_ulong(arg3),
                               ctypes.c_ulong(arg4), ctypes.c_ulong(arg5)), "prctl")


def set_pdeathsig(signum: int) -> None:
    prctl(_PR_SET_PDEATHSIG, signum)


def set_no_new_privs() -> None:
    prctl(_PR_SET_NO_NEW_PRIVS, 1)


def set_dumpable(flag: bool) -> None:
    prctl(_PR_SET_DUMPABLE, 1 if flag else 0)


def set_child_subreaper() -> None:
    prctl(_PR_SET_CHILD_SUBREAPER, 1)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Empty the bounding set, lock the root-privilege securebits and clear
    every capability set of the calling thread (for a process that keeps its
    uid but must lose the capabilities a user namespace gave it)."""
    for cap in range(64):
        try:
            prctl(_PR_CAPBSET_DROP, cap)
        except OSError as exc:
            if exc.errno == 22:          # EINVAL: past the last capability
                break
            raise
    # SECBIT_NOROOT | _LOCKED, SECBIT_NO_SETUID_FIXUP | _LOCKED, SECBIT_KEEP_CAPS_LOCKED,
    # SECBIT_NO_CAP_AMBIENT_RAISE | _LOCKED
    prctl(_PR_SET_SECUREBITS, 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40 | 0x80)
    header = _CapHeader(0x20080522, 0)        # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _syscall("capset", ctypes.byref(header), ctypes.byref(data))
