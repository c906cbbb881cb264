"""Which Android ABI an ELF executable is built for, read from its header.

Pushing an x86_64 build to an arm64 phone would fail only at run time with
an obscure "not executable" message; the header says it up front.
"""

from __future__ import annotations

import struct
from pathlib import Path

ELF_MAGIC = b"\x7fELF"
# e_machine values (ELF gABI) and the Android ABIs that can run them.
ABIS_OF_MACHINE = {
    3: ("x86",),
    40: ("armeabi-v7a", "armeabi"),
    62: ("x86_64",),
    183: ("arm64-v8a",),
    243: ("riscv64",),
}


def elf_machine(path: Path) -> int | None:
    """e_machine of an ELF file, or None when the file is not ELF (a model, a script)."""
    with open(path, "rb") as file:
        header = file.read(20)
    if len(header) < 20 or not header.startswith(ELF_MAGIC):
        return None
    byte_order = "<" if header[5] == 1 else ">"
    return struct.unpack_from(byte_order + "H", header, 18)[0]


def abi_mismatch(path: Path, device_abis: list[str]) -> str | None:
    """Why `path` cannot run on a device with `device_abis`, or None if it can (or is not ELF)."""
    machine = elf_machine(path)
    if machine is None:
        return None
    runs_on = ABIS_OF_MACHINE.get(machine, ())
    if any(abi in device_abis for abi in runs_on):
        return None
    built_for = "/".join(runs_on) if runs_on else f"ELF machine {machine}"
    return f"built for {built_for}, but the device runs {', '.join(device_abis)}"
