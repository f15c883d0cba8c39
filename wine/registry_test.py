#!/usr/bin/env python3
"""The registry's protection holds for a copy started through the injector, as the README
shows it (run through wine/test). Under Wine the Windows API cannot see Unix owners, modes
or links, so the DLL asks the Linux kernel (Sources/CWineBridge/win32_unix.c). Each case
runs a hooked lantest.exe (--control: WSAStartup and one bind, then it waits) against a
prepared registry path:
  - none yet, umask 022 (also the wineserver's: Wine creates files there): the DLL creates the registry 0600 in a folder 0700 and its log
    0600 (control: Wine itself, under the same umask, creates a file 0644);
  - a registry file readable by others (0644), one owned by another user, a symbolic link
    to a private registry, and the 0644 one named by its Windows path (Z:\\...): each is
    refused (the copy's WSAStartup fails with WSASYSNOTREADY, stderr says why and what to
    do); control: the same private file, named directly, is accepted."""
import os
import stat
import subprocess

from winelab import Copy, check, finish, hooked, one_prefix_stage, stop_prefix, windows_path

NOBODY = 65534


def run_copy(env, registry):
    """(ready, output): a hooked copy against `registry`, stopped once it said READY."""
    copy = Copy(hooked("lantest.exe", "--control"), {**env, "VIRTUALLAN_REGISTRY": registry}, with_stderr=True)
    ready = copy.line("READY") is not None
    if ready:
        copy.send("quit")
    copy.finish()
    return ready, "\n".join(copy.lines)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


def main():
    work, prefix, env, started = one_prefix_stage("registry")
    # What a user's shell has. Wine creates files in the wineserver (the create_file
    # request), so it is the server's umask that counts: restart it under this one.
    stop_prefix(prefix)
    os.umask(0o022)
    subprocess.run(["wineserver", "-p"], env=env, check=True)
    print("registry protection through the injector (umask 022)")

    fresh = os.path.join(work, "fresh", "registry")
    log = os.path.join(work, "fresh-copy.log")
    ready, output = run_copy({**env, "VIRTUALLAN_LOG": log}, fresh)
    check(ready, f"a copy creates a new registry and runs ({output.splitlines()[-1:] if not ready else 'READY'})")
    check(os.path.exists(fresh) and mode(fresh) == 0o600, f"the new registry is private: mode {oct(mode(fresh)) if os.path.exists(fresh) else 'missing'} (expected 0o600)")
    check(mode(os.path.dirname(fresh)) == 0o700, f"its new folder is private: mode {oct(mode(os.path.dirname(fresh)))}")
    check(os.path.exists(log) and mode(log) == 0o600, f"the copy's new log is private: mode {oct(mode(log)) if os.path.exists(log) else 'missing'}")
    control = os.path.join(work, "wine-made.txt")
    subprocess.run(["wine", "cmd", "/c", f"echo x > {windows_path(control)}"], env=env, capture_output=True, timeout=120)
    check(os.path.exists(control) and mode(control) == 0o644,
          f"control: Wine itself creates a file {oct(mode(control)) if os.path.exists(control) else 'missing'} under this umask (so 0600 above is the DLL's doing)")

    private = os.path.join(work, "private-registry")
    open(private, "wb").close()
    os.chmod(private, 0o600)
    ready, output = run_copy(env, private)
    check(ready, "control: a private registry file of ours is accepted")

    readable = os.path.join(work, "readable-registry")
    open(readable, "wb").close()
    os.chmod(readable, 0o644)
    foreign = os.path.join(work, "foreign-registry")
    open(foreign, "wb").close()
    os.chmod(foreign, 0o600)
    os.chown(foreign, NOBODY, NOBODY)
    link = os.path.join(work, "link-registry")
    os.symlink(private, link)
    for path, name, expected in [
        (readable, "a registry readable by others (0644)", "readable or writable by others: run 'chmod 600"),
        (foreign, "a registry owned by another user", "belongs to another user"),
        (link, "a symbolic link to a private registry", "is not a regular file (a folder, a symbolic link"),
        (windows_path(readable), "the 0644 registry named by its Windows path", "readable or writable by others"),
    ]:
        ready, output = run_copy(env, path)
        said = next((line for line in output.splitlines() if "virtuallan:" in line), "(nothing said)")
        check(not ready and expected in output and "RESULT fail=WSAStartup" in output, f"refused: {name}: {said.strip()}")
    check(mode(readable) == 0o644 and os.stat(foreign).st_uid == NOBODY and os.path.islink(link),
          "the refused files are left as they were")
    stop_prefix(prefix)
    finish(started)


if __name__ == "__main__":
    main()
