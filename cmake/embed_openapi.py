#!/usr/bin/env python3
"""Compiles openapi/openapi.yaml into C: the YAML as written and its JSON form,
compact (served by default) and indented (served with ?pretty=1).

usage: embed_openapi.py INPUT.yaml OUTPUT.c

Loading the YAML here also checks it at build time: a document that does not
parse fails the build instead of being served broken.
"""
import json
import sys

import yaml

from embed_text import c_array


def main():
    source, output = sys.argv[1], sys.argv[2]
    with open(source, "rb") as handle:
        text = handle.read()
    document = yaml.safe_load(text)
    compact = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
    indented = json.dumps(document, indent=2, ensure_ascii=False).encode() + b"\n"
    with open(output + ".tmp", "w") as handle:
        handle.write(f"/* Generated from {source} by cmake/embed_openapi.py; do not edit. */\n")
        handle.write("#include <stddef.h>\n\n")
        handle.write(c_array("nd_openapi_yaml", text) + "\n\n")
        handle.write(c_array("nd_openapi_json", compact) + "\n\n")
        handle.write(c_array("nd_openapi_json_pretty", indented) + "\n")
    import os
    os.replace(output + ".tmp", output)


if __name__ == "__main__":
    main()
