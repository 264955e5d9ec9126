"""The printable receipt (PDF, reportlab): the hall's name, the receipt number and check code, a QR
code of the verification data, the lines, each department's subtotal, and the total in figures
and in Chinese capitals. The CJK font is reportlab's own STSong-Light (a standard CID font every
PDF reader has), so nothing is embedded and the text stays extractable."""

from __future__ import annotations

import io
import json

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A5, landscape
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

from hall.v1 import fees_pb2
from services.domain.money import format_yuan
from services.runtime import clock

FONT = "STSong-Light"
pdfmetrics.registerFont(UnicodeCIDFont(FONT))
_METHODS = {fees_pb2.PAYMENT_METHOD_CASH: "现金", fees_pb2.PAYMENT_METHOD_BANK_CARD: "银行卡",
            fees_pb2.PAYMENT_METHOD_BANK_TRANSFER: "银行转账", fees_pb2.PAYMENT_METHOD_NON_TAX_NOTICE: "非税缴款通知书"}


def verification_data(receipt: fees_pb2.Receipt) -> str:
    """What the QR code holds: enough to call VerifyReceipt, or to check the signature offline."""
    return json.dumps({"receipt_number": receipt.receipt_number, "check_code": receipt.check_code,
                       "key_id": receipt.key_id, "total_fen": receipt.total.fen}, separators=(",", ":"))


def render(receipt: fees_pb2.Receipt, *, hall_name: str, departments: dict[str, str]) -> bytes:
    out = io.BytesIO()
    width, height = landscape(A5)
    c = canvas.Canvas(out, pagesize=(width, height), pageCompression=0)
    c.setTitle(f"{receipt.receipt_number}")
    title = "统一收费票据（冲销）" if receipt.kind == fees_pb2.RECEIPT_KIND_REVERSAL else "统一收费票据"
    c.setFont(FONT, 16)
    c.drawCentredString(width / 2, height - 16 * mm, f"{hall_name} {title}")
    c.setFont(FONT, 10)
    issued = clock.local(clock.from_timestamp(receipt.issued_at))
    y = height - 26 * mm
    for text in (f"票据号码：{receipt.receipt_number}    校验码：{receipt.check_code}",
                 f"缴款人：{receipt.payer_name}    案件：{receipt.case_id}    开票时间：{issued:%Y-%m-%d %H:%M}",
                 f"缴款方式：{_METHODS.get(receipt.method, '')} {receipt.reference}    收款人：{receipt.clerk_id}"
                 + (f"    冲销原票据：{receipt.reverses}（{receipt.reason}）" if receipt.reverses else "")):
        c.drawString(12 * mm, y, text)
        y -= 6 * mm
    y -= 2 * mm
    c.drawString(12 * mm, y, "执收部门")
    c.drawString(45 * mm, y, "收费项目")
    c.drawString(110 * mm, y, "数量")
    c.drawRightString(150 * mm, y, "金额")
    c.line(12 * mm, y - 2 * mm, 150 * mm, y - 2 * mm)
    y -= 7 * mm
    for line in receipt.lines:
        c.drawString(12 * mm, y, departments.get(line.department, line.department))
        c.drawString(45 * mm, y, line.item_name)
        c.drawString(110 * mm, y, f"{line.quantity or 1}{line.unit_name}")
        c.drawRightString(150 * mm, y, format_yuan(line.amount.fen))
        y -= 6 * mm
    c.line(12 * mm, y + 3 * mm, 150 * mm, y + 3 * mm)
    for sub in receipt.subtotals:
        c.drawString(12 * mm, y, f"小计 {departments.get(sub.department, sub.department)}")
        c.drawRightString(150 * mm, y, format_yuan(sub.amount.fen))
        y -= 6 * mm
    c.setFont(FONT, 12)
    c.drawString(12 * mm, y - 2 * mm, f"合计（大写）：{receipt.total_in_capitals}")
    c.drawRightString(150 * mm, y - 2 * mm, f"（小写）{format_yuan(receipt.total.fen)}")
    qr = QrCodeWidget(verification_data(receipt))
    x0, y0, x1, y1 = qr.getBounds()
    size = 34 * mm
    drawing = Drawing(size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, c, width - size - 10 * mm, height - size - 24 * mm)
    c.setFont(FONT, 8)
    c.drawString(width - size - 10 * mm, height - size - 28 * mm, f"验签密钥 {receipt.key_id}")
    c.drawString(12 * mm, 10 * mm, "本票据由电子签名（Ed25519）保护：扫码或凭票据号码与校验码向中心核验，或以公布的公钥离线验签。")
    c.showPage()
    c.save()
    return out.getvalue()
