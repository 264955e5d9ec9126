"""QueueService over gRPC: thin; the rules live in queue.py."""

from __future__ import annotations

import grpc

from hall.v1 import queue_pb2, queue_pb2_grpc
from services.intake.queue import Queue


class QueueServicer(queue_pb2_grpc.QueueServiceServicer):
    def __init__(self, queue: Queue) -> None:
        self._queue = queue

    def TakeTicket(self, request: queue_pb2.TakeTicketRequest, context: grpc.ServicerContext) -> queue_pb2.TakeTicketResponse:
        return queue_pb2.TakeTicketResponse(ticket=self._queue.take(request))

    def CallNext(self, request: queue_pb2.CallNextRequest, context: grpc.ServicerContext) -> queue_pb2.CallNextResponse:
        return self._queue.call_next(request.window_id, request.clerk_id)

    def Recall(self, request: queue_pb2.RecallRequest, context: grpc.ServicerContext) -> queue_pb2.RecallResponse:
        return queue_pb2.RecallResponse(ticket=self._queue.recall(request.ticket_id, request.window_id))

    def MarkNoShow(self, request: queue_pb2.MarkNoShowRequest, context: grpc.ServicerContext) -> queue_pb2.MarkNoShowResponse:
        return queue_pb2.MarkNoShowResponse(ticket=self._queue.no_show(request.ticket_id, request.window_id))

    def Transfer(self, request: queue_pb2.TransferRequest, context: grpc.ServicerContext) -> queue_pb2.TransferResponse:
        return queue_pb2.TransferResponse(ticket=self._queue.transfer(request.ticket_id, request.group))

    def GetTicket(self, request: queue_pb2.GetTicketRequest, context: grpc.ServicerContext) -> queue_pb2.GetTicketResponse:
        return queue_pb2.GetTicketResponse(ticket=self._queue.get(request.ticket_id))

    def GetWaits(self, request: queue_pb2.GetWaitsRequest, context: grpc.ServicerContext) -> queue_pb2.GetWaitsResponse:
        return queue_pb2.GetWaitsResponse(groups=self._queue.waits())

    def GetBoard(self, request: queue_pb2.GetBoardRequest, context: grpc.ServicerContext) -> queue_pb2.GetBoardResponse:
        return self._queue.board()
