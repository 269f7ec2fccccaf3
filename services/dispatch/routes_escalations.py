"""The escalation ladder as the phoning person sees it: open escalations, calls recorded."""

from fastapi import APIRouter

router = APIRouter(prefix="/v1", tags=["escalations"])
