"""The STIX 2.1 boundary: read and validate inbound objects, render outbound ones in a defined order.

Data markings (labels to TLP 2.0, ISA ACS 3.0 and tearline's own extension, and back) are in
:mod:`tearline.stix.markings`; ``docs/labels.md`` has the mapping table.
"""
