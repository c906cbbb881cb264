"""Program text that finds the CPU quota of the cgroups it runs in, for test programs to check a limit reached them."""

OWN_CPU_QUOTA = '''
from pathlib import Path


def own_cpu_quota():
    """CPUs this process may use per period (cgroup v2 cpu.max or v1 cfs quota), or None when unlimited."""
    mounts = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for mount in mounts:
            v2 = mount[2] == "cgroup2" and not controllers
            v1 = mount[2] == "cgroup" and "cpu" in mount[3].split(",") and "cpu" in controllers.split(",")
            if not (v1 or v2):
                continue
            directory = Path(mount[1]) / path.lstrip("/")
            if (directory / "cpu.max").exists():
                quota, period = (directory / "cpu.max").read_text().split()
            elif (directory / "cpu.cfs_quota_us").exists():
                quota = (directory / "cpu.cfs_quota_us").read_text().strip()
                period = (directory / "cpu.cfs_period_us").read_text().strip()
            else:
                continue
            if quota not in ("max", "-1"):
                return int(quota) / int(period)
    return None
'''
