"""Signed webhooks from CRMs and helpdesks."""

from fastapi import APIRouter

from handlers.webhooks import generic

router = APIRouter(prefix="/webhooks")
router.include_router(generic.router)

__all__ = ["router"]
