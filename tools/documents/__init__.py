"""Office documents and PDFs: format sniffing and safety, conversion, rendering, inspection.

Public API (other modules and helpers import these names):
- DocumentError, detect_format, sniff (tools.documents.formats)
- tools.documents.convert: to_pdf, convert_to, to_pdf_many, cache_root
- tools.documents.render: render_document, render_many, RenderResult, parse_pages
- tools.documents.inspect: inspect_document, format_inspection
- tools.documents.text: read_text
- tools.documents.fonts: substituted_fonts
"""

from tools.documents.formats import DocumentError, detect_format, sniff

__all__ = ["DocumentError", "detect_format", "sniff"]
