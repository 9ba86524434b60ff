#!/usr/bin/env python3
"""Derives src/acumatica/schema_fields.json from Acumatica's official endpoint schemas.

Usage: scripts/schema-fields.py [DIR]   (DIR defaults to ../shared/acumatica)

For each version (23.200.001 from the Swagger 2.0 file, 24.200.001 from the OpenAPI 3.0 file) and
each entity type the bridge uses, it lists every field with its kind: a wrapper type without the
"Value" suffix ("String", "Decimal", ...), the name of a linked entity type ("Contact"), or a detail
list ("[SalesOrderDetail]"). The test `schema_fields_match_official_schema` (tests/it) derives the
same thing in Rust and fails when the committed file and the official schemas disagree.
"""
import json, os, sys

TYPES = ["Address", "Contact", "Customer", "CustomerClass", "DocContact", "ItemClass",
         "SalesOrder", "SalesOrderDetail", "ShippingSettings", "StockItem", "Subaccount",
         "TaxCategory", "Totals", "Warehouse"]
FILES = {"23.200.001": ("eCommerce_23.200.001.swagger.json", "definitions"),
         "24.200.001": ("eCommerce_24.200.001.openapi.json", "components")}

def kind(prop):
    if prop.get("type") == "array":
        return "[" + prop["items"]["$ref"].rsplit("/", 1)[1] + "]"
    name = prop["$ref"].rsplit("/", 1)[1]
    return name[:-5] if name.endswith("Value") else name

def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join("..", "shared", "acumatica")
    out = {}
    for version, (file, section) in FILES.items():
        doc = json.load(open(os.path.join(src, file)))
        defs = doc["definitions"] if section == "definitions" else doc["components"]["schemas"]
        out[version] = {}
        for t in TYPES:
            fields = {}
            for part in defs[t].get("allOf", [defs[t]]):
                if "$ref" in part:
                    continue  # the common Entity base: id, rowNumber, note, custom, error, files
                for name, prop in part.get("properties", {}).items():
                    fields[name] = kind(prop)
            out[version][t] = dict(sorted(fields.items()))
    path = os.path.join(os.path.dirname(__file__), "..", "src", "acumatica", "schema_fields.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=2, sort_keys=True)
        f.write("\n")

if __name__ == "__main__":
    main()
