"""Data quality audits (`headstart audit`) and bias audits of trained models (`headstart bias`)."""

from .core import AuditConfig, audit_data, write_audit
from .report import audit_section_html, audit_text

__all__ = ["AuditConfig", "audit_data", "write_audit", "audit_section_html", "audit_text"]
