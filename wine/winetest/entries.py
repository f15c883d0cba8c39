#!/usr/bin/env python3
"""Turns one of Wine's Winsock test files (dlls/ws2_32/tests/sock.c, protocol.c) into a
program with one entry per test function, so each runs as its own process (one crash or
hang then ends one entry, not the run). Usage: entries.py TEST_C OUT_C. Reads the body of
START_TEST(<file's name>): every `test_x();` call is an entry, and so is a loop (sock.c's
over its `tests[]` table, named after the function it calls). The other statements set
things up (protocol.c's function pointers, WSAStartup, WSACleanup): each entry runs those
that come before it, in order, then its call, so it starts where START_TEST would have it
start. sock.c's Init() and Exit() go around each entry after Init(). The body's
declarations are each entry's. The output is the file with START_TEST renamed, then the
entries; Wine's code is read at build time, never committed."""
import os
import re
import sys

def start_of(name):
    return re.compile(r"^START_TEST\(\s*%s\s*\)\s*$" % re.escape(name), re.M)


def body(source, name):
    match = start_of(name).search(source)
    if not match:
        sys.exit(f"entries.py: no START_TEST( {name} ) in the source")
    opened = source.index("{", match.end())
    depth, at = 0, opened
    while True:
        depth += {"{": 1, "}": -1}.get(source[at], 0)
        if depth == 0:
            return match, source[opened + 1:at], at + 1
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


DECLARATION = re.compile(r"[A-Za-z_]\w*(\s+\**\w+)+;")


def entries(stmts):
    """([(name, statement, with_init, setup before it)], declarations) in START_TEST's order."""
    out, declarations, setup, initialised = [], [], [], False
    for stmt in stmts:
        if DECLARATION.fullmatch(stmt):
            declarations.append(stmt)
            continue
        if stmt == "Init();":
            initialised = True
            continue
        if stmt == "Exit();":
            continue
        call = re.fullmatch(r"(test_\w+)\(\);", stmt)
        if call or re.match(r"(for|while)\b", stmt):
            name = call.group(1) if call else re.search(r"(\w+)\s*\([^()]*\);$", stmt).group(1)
            out.append((name, stmt, initialised, list(setup)))
        else:
            setup.append(stmt)
    return out, declarations


def main():
    source_path, out_path = sys.argv[1], sys.argv[2]
    test = os.path.splitext(os.path.basename(source_path))[0]
    source = open(source_path, encoding="utf-8", errors="replace").read()
    match, text, end = body(source, test)
    listed, declarations = entries(statements(text))
    names = [name for name, _, _, _ in listed]
    if len(set(names)) != len(names):
        sys.exit("entries.py: two entries of one name")
    lines = [f'#line 1 "{source_path}"', source[:match.start()] + f"static void all_of_{test}(void)" + source[match.end():end],
             "", "/* The entries (made by wine/winetest/entries.py). */"]
    for name, stmt, initialised, setup in listed:
        lines.append(f"static void entry_{name}(void)\n{{")
        lines += [f"    {declaration}" for declaration in declarations] + [f"    {step}" for step in setup]
        lines += ["    Init();"] * initialised + [f"    {stmt}"] + ["    Exit();"] * initialised + ["}"]
    lines.append("const struct test winetest_testlist[] =\n{")
    lines += [f'    {{ "{name}", entry_{name} }},' for name in names]
    lines += ["    { 0, 0 }", "};", ""]
    with open(out_path, "w") as out:
        out.write("\n".join(lines))
    print(f"entries.py: {test}.c: {len(listed)} entries")


if __name__ == "__main__":
    main()
