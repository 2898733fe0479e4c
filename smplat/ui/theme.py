"""Brand theme: colours, type and shared style tokens."""

import reflex as rx

ACCENT = "violet"
BRAND_GRADIENT = "linear-gradient(135deg, #6d28d9 0%, #db2777 100%)"
PAGE_MAX_WIDTH = "1180px"

theme = rx.theme(
    appearance="light",
    accent_color=ACCENT,
    gray_color="slate",
    radius="large",
    scaling="100%",
)

global_style = {
    "font_family": "'Inter', 'Segoe UI', system-ui, -apple-system, Roboto, 'Helvetica Neue', Arial, sans-serif",
    "::selection": {"background_color": "var(--violet-a5)"},
    "a": {"text_decoration": "none"},
}

CARD = {
    "background": "var(--color-panel-solid)",
    "border": "1px solid var(--gray-a5)",
    "border_radius": "16px",
    "box_shadow": "0 1px 2px rgba(16,24,40,.04), 0 1px 3px rgba(16,24,40,.06)",
}
