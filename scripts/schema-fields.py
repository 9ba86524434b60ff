#!/usr/bin/env python3
"""Keeps the Acumatica schema test data and src/acumatica/schema_fields.json up to date.

Usage: scripts/schema-fields.py [DIR]

With DIR (a folder holding Acumatica's published endpoint schemas, eCommerce_23.200.001.swagger.json
and eCommerce_24.200.001.openapi.json, see tests/data/acumatica/SOURCE.md), it first extracts from
them the definitions of the entity types the bridge uses into tests/data/acumatica/ (the same file
names, the same document layout, only those definitions and the common Entity base). Then, always,
it derives src/acumatica/schema_fields.json from tests/data/acumatica/.

For each version (23.200.001 from the Swagger 2.0 file, 24.200.001 from the OpenAPI 3.0 file) and
each entity type, the fixture lists every field with its kind: a wrapper type without the "Value"
suffix ("String", "Decimal", ...), the name of a linked entity type ("Contact"), or a detail list
("[SalesOrderDetail]"). The test `schema_fields_match_official_schema` (tests/it) derives the same
thing in Rust from tests/data/acumatica/ and fails when the committed fixture disagrees.
"""
import json
import os
import sys

TYPES = ["Address", "Contact", "Customer", "CustomerClass", "DocContact", "Invoice", "InvoiceDetail", "ItemClass", "Payment",
         "PaymentMethod", "PaymentMethodAllowedCashAccountDetail", "PaymentOrderDetail",
         "SalesOrder", "SalesOrderDetail", "SalesOrderPayment", "SalesOrderShipment", "Shipment",
         "ShipmentDetail", "ShipmentOrderDetail", "ShipmentPackage", "ShippingSettings",
         "StockItem", "Subaccount", "TaxCategory", "Totals", "Warehouse"]
FILES = {"23.200.001": "eCommerce_23.200.001.swagger.json",
         "24.200.001": "eCommerce_24.200.001.openapi.json"}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DATA = os.path.join(ROOT, "tests", "data", "acumatica")
SOURCE = ("Extract of Acumatica's published endpoint schema (EndpointDefinitions/ in "
          "github.com/Acumatica/AcumaticaRESTAPIClientForCSharp, MIT, Copyright (c) 2023 Acumatica): "
          "only the definitions of the entity types the bridge uses; see SOURCE.md")


def definitions(doc):
    return doc["definitions"] if "definitions" in doc else doc["components"]["schemas"]


def extract(src):
    """Writes tests/data/acumatica/<file> from the full official file in `src`."""
    os.makedirs(DATA, exist_ok=True)
    for file in FILES.values():
        with open(os.path.join(src, file), encoding="utf-8") as f:
            doc = json.load(f)
        defs = definitions(doc)
        kept = {t: defs[t] for t in ["Entity"] + TYPES}
        out = {"x-source": SOURCE, "info": doc["info"]}
        if "definitions" in doc:
            out["swagger"] = doc["swagger"]
            out["definitions"] = kept
        else:
            out["openapi"] = doc["openapi"]
            out["components"] = {"schemas": kept}
        with open(os.path.join(DATA, file), "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)
            f.write("\n")


def kind(prop):
    if prop.get("type") == "array":
        return "[" + prop["items"]["$ref"].rsplit("/", 1)[1] + "]"
    name = prop["$ref"].rsplit("/", 1)[1]
    return name[:-5] if name.endswith("Value") else name


def derive():
    out = {}
    for version, file in FILES.items():
        with open(os.path.join(DATA, file), encoding="utf-8") as f:
            defs = definitions(json.load(f))
        out[version] = {}
        for t in TYPES:
            fields = {}
            for part in defs[t].get("allOf", [defs[t]]):
                if "$ref" in part:
                    continue  # the common Entity base: id, rowNumber, note, custom, error, files
                for name, prop in part.get("properties", {}).items():
                    fields[name] = kind(prop)
            out[version][t] = dict(sorted(fields.items()))
    return out


def main():
    if len(sys.argv) > 1:
        extract(sys.argv[1])
    path = os.path.join(ROOT, "src", "acumatica", "schema_fields.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(derive(), f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
