"""FeesService over gRPC."""

from __future__ import annotations

import grpc

from hall.v1 import fees_pb2, fees_pb2_grpc
from services.catalogue import Catalogue
from services.fees.pricing import quote
from services.fees.receipts import Receipts


class FeesServicer(fees_pb2_grpc.FeesServiceServicer):
    def __init__(self, catalogue: Catalogue, receipts: Receipts) -> None:
        self._catalogue = catalogue
        self._receipts = receipts

    def Quote(self, request: fees_pb2.QuoteRequest, context: grpc.ServicerContext) -> fees_pb2.QuoteResponse:
        return quote(self._catalogue, matter_code=request.matter_code, bundle_code=request.bundle_code)

    def IssueReceipt(self, request: fees_pb2.IssueReceiptRequest, context: grpc.ServicerContext) -> fees_pb2.IssueReceiptResponse:
        receipt, duplicate = self._receipts.issue(request)
        return fees_pb2.IssueReceiptResponse(receipt=receipt, duplicate=duplicate)

    def GetReceipt(self, request: fees_pb2.GetReceiptRequest, context: grpc.ServicerContext) -> fees_pb2.GetReceiptResponse:
        return fees_pb2.GetReceiptResponse(receipt=self._receipts.get(request.application_id))
