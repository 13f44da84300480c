"""Office documents and PDFs: format sniffing and safety, conversion, rendering, inspection.

Public API (other modules and helpers import these names):
- DocumentError, detect_format (tools.documents.formats)
- tools.documents.convert: to_pdf, convert_to, to_pdf_many
- tools.documents.render: render_document, RenderResult
- tools.documents.inspect: inspect_document, format_inspection, read_text
"""
from tools.documents.formats import DocumentError, detect_format, sniff

__all__ = ["DocumentError", "detect_format", "sniff"]
