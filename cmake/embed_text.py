#!/usr/bin/env python3
"""Compiles a file into C: a NUL-terminated byte array and its length.

usage: embed_text.py INPUT OUTPUT.c SYMBOL

The file is served as it is (the fleet page, say), so it is compiled in
rather than looked for beside the binary at run time.
"""
import os
import sys


def c_array(name, data):
    lines = [f"const unsigned char {name}[] = {{"]
    for start in range(0, len(data), 16):
        chunk = data[start:start + 16]
        lines.append("    " + ", ".join(f"0x{byte:02x}" for byte in chunk) + ",")
    lines.append("    0x00,")
    lines.append("};")
    lines.append(f"const size_t {name}_length = {len(data)};")
    return "\n".join(lines)


def main():
    source, output, symbol = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(source, "rb") as handle:
        data = handle.read()
    with open(output + ".tmp", "w") as handle:
        handle.write(f"/* Generated from {source} by cmake/embed_text.py; do not edit. */\n")
        handle.write("#include <stddef.h>\n\n")
        handle.write(c_array(symbol, data) + "\n")
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main()
