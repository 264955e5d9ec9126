"""FeesService over gRPC: thin; the rules live in payments.py and pricing.py."""

from __future__ import annotations

import grpc

from hall.v1 import fees_pb2, fees_pb2_grpc
from services.fees.payments import Fees


class FeesServicer(fees_pb2_grpc.FeesServiceServicer):
    def __init__(self, fees: Fees) -> None:
        self._fees = fees

    def Quote(self, request: fees_pb2.QuoteRequest, context: grpc.ServicerContext) -> fees_pb2.QuoteResponse:
        return self._fees.quote(request)

    def Pay(self, request: fees_pb2.PayRequest, context: grpc.ServicerContext) -> fees_pb2.PayResponse:
        receipt, duplicate = self._fees.pay(request)
        return fees_pb2.PayResponse(receipt=receipt, duplicate=duplicate)

    def GetReceipt(self, request: fees_pb2.GetReceiptRequest, context: grpc.ServicerContext) -> fees_pb2.GetReceiptResponse:
        return fees_pb2.GetReceiptResponse(receipt=self._fees.get(request))

    def VerifyReceipt(self, request: fees_pb2.VerifyReceiptRequest, context: grpc.ServicerContext) -> fees_pb2.VerifyReceiptResponse:
        return self._fees.verify(request)

    def GetVerificationKey(self, request: fees_pb2.GetVerificationKeyRequest, context: grpc.ServicerContext) -> fees_pb2.GetVerificationKeyResponse:
        return fees_pb2.GetVerificationKeyResponse(key_id=self._fees.signer.key_id, public_key_pem=self._fees.signer.public_pem)

    def Refund(self, request: fees_pb2.RefundRequest, context: grpc.ServicerContext) -> fees_pb2.RefundResponse:
        receipt, duplicate = self._fees.refund(request)
        return fees_pb2.RefundResponse(receipt=receipt, duplicate=duplicate)

    def PrintReceipt(self, request: fees_pb2.PrintReceiptRequest, context: grpc.ServicerContext) -> fees_pb2.PrintReceiptResponse:
        return fees_pb2.PrintReceiptResponse(pdf=self._fees.pdf(request.receipt_number))

    def ExportReconciliation(self, request: fees_pb2.ExportReconciliationRequest, context: grpc.ServicerContext) -> fees_pb2.ExportReconciliationResponse:
        return self._fees.reconcile(request.day)
