"""What the UI is built from (:class:`UiDeps`, made by the composition root)."""

from __future__ import annotations

from tearline.services.ui_deps import Reports, UiDeps, VaultSummary

__all__ = ["Reports", "UiDeps", "VaultSummary"]
