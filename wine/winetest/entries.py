#!/usr/bin/env python3
"""Turns Wine's dlls/ws2_32/tests/sock.c into a program with one entry per test function,
so each runs as its own process (one crash or hang then ends one entry, not the run).
Usage: entries.py SOCK_C OUT_C. Reads START_TEST(sock)'s body: the calls before Init() run
as they are (they test Winsock before WSAStartup); every later statement is an entry with
sock.c's own Init() before it and Exit() after it. A statement that is not a plain
`test_x();` call (the loop over the `tests[]` table) is an entry named after the function
it calls. The output is sock.c with START_TEST renamed, then the entries; Wine's code is
read at build time, never committed."""
import re
import sys

START = re.compile(r"^START_TEST\(\s*sock\s*\)\s*$", re.M)


def body(source):
    match = START.search(source)
    if not match:
        sys.exit("entries.py: no START_TEST( sock ) in the source")
    opened = source.index("{", match.end())
    depth, at = 0, opened
    while True:
        depth += {"{": 1, "}": -1}.get(source[at], 0)
        if depth == 0:
            return match.start(), source[opened + 1:at], at + 1
        at += 1


def statements(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    current, out = "", []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        current = f"{current} {line}".strip()
        if current.endswith(";") and not (current.startswith("for") and current.count("(") == current.count(")") and current.endswith(")")):
            out.append(current)
            current = ""
    if current:
        sys.exit(f"entries.py: an unfinished statement in START_TEST: {current}")
    return out


def entries(stmts):
    """[(name, statement, with_init)] in the order of START_TEST."""
    out, initialised = [], False
    for stmt in stmts:
        if re.fullmatch(r"int \w+;", stmt) or stmt == "Exit();":
            continue
        if stmt == "Init();":
            initialised = True
            continue
        call = re.fullmatch(r"(test_\w+)\(\);", stmt)
        name = call.group(1) if call else re.search(r"(\w+)\s*\([^()]*\);$", stmt).group(1)
        out.append((name, stmt, initialised))
    return out


def main():
    source_path, out_path = sys.argv[1], sys.argv[2]
    source = open(source_path, encoding="utf-8", errors="replace").read()
    start, text, end = body(source)
    listed = entries(statements(text))
    names = [name for name, _, _ in listed]
    if len(set(names)) != len(names):
        sys.exit("entries.py: two entries of one name")
    lines = [f'#line 1 "{source_path}"', source[:start] + "static void all_of_sock(void)" + source[start + len(START.search(source).group(0)):end],
             "", "/* The entries (made by wine/winetest/entries.py). */"]
    for name, stmt, initialised in listed:
        needs_i = "i" if re.search(r"\bi\b", stmt) else None
        lines.append(f"static void entry_{name}(void)\n{{")
        if needs_i:
            lines.append("    int i;")
        lines += ["    Init();"] * initialised + [f"    {stmt}"] + ["    Exit();"] * initialised + ["}"]
    lines.append("const struct test winetest_testlist[] =\n{")
    lines += [f'    {{ "{name}", entry_{name} }},' for name in names]
    lines += ["    { 0, 0 }", "};", ""]
    with open(out_path, "w") as out:
        out.write("\n".join(lines))
    print(f"entries.py: {len(listed)} entries")


if __name__ == "__main__":
    main()
