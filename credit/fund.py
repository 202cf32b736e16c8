"""Consumer-protection fund (消费者权益保证金) and advance compensation (先行赔付).

消法 Art 44 and 电子商务法 Art 58: a platform that promised more protection pays the
consumer first and recovers from the merchant.  Amounts are integer fen (分): the ledger
refuses floats.  Every movement is an entry on the fund's chain ``fund:<platform id>``;
the balance is derived (the sum of the movements) and ``ledger_balance`` recomputes it
from the entries themselves, so an audit can compare the two.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from credit._entries import new_id, require_role, write
from credit.complaints import get_complaint
from credit.errors import Conflict, Duplicate, InsufficientFunds, InvalidInput, NotFound
from credit.models import FundClaim, FundMovement
from credit.projections import apply_fund
from credit.services import get_subject
from ledger.actor import Actor
from ledger.sequencer import LogWriter
from ledger.store import entries_of

__all__ = ["fund_key", "deposit", "open_claim", "pay_claim", "recover", "balance", "ledger_balance",
           "get_claim"]

_KEEPERS = frozenset({"platform", "admin"})
# Entry kind -> sign of its amount in the balance.
_SIGNS = {"credit.fund_deposit": 1, "credit.fund_payout": -1, "credit.fund_recovery": 1}


def fund_key(platform_id: str) -> str:
    """Return the ledger subject (hash chain) of the fund of ``platform_id``."""
    return f"fund:{platform_id}"


def _positive(amount_fen: int) -> int:
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise InvalidInput(f"amount must be a positive integer of fen, got {amount_fen!r}")
    return amount_fen


def get_claim(session: Session, claim_id: str) -> FundClaim:
    """Return the claim ``claim_id``.

    :raises NotFound: when there is none.
    """
    row = session.get(FundClaim, claim_id)
    if row is None:
        raise NotFound(f"no compensation claim {claim_id!r}")
    return row


def deposit(writer: LogWriter, actor: Actor, platform_id: str, amount_fen: int, *, now: datetime,
            note: str = "") -> FundMovement:
    """Deposit ``amount_fen`` into the fund of ``platform_id``.

    :raises Forbidden: unless the platform or an administrator deposits.
    :raises InvalidInput: for a non-positive amount or a subject that is not a platform.
    """
    require_role(actor, _KEEPERS, "deposit into the fund")
    if get_subject(writer.session, platform_id).kind != "platform":
        raise InvalidInput(f"subject {platform_id} is not a platform: it has no fund")
    movement_id = new_id()
    write(writer, actor, now, apply_fund, [("credit.fund_deposit", fund_key(platform_id), {
        "id": movement_id, "fund_id": platform_id, "amount_fen": _positive(amount_fen),
        "note": note,
    })])
    return writer.session.get_one(FundMovement, movement_id)


def open_claim(writer: LogWriter, actor: Actor, complaint_id: str, *, platform_id: str,
               now: datetime, amount_fen: int | None = None) -> FundClaim:
    """Open an advance-compensation claim for an upheld complaint (amount: the complaint's claim).

    :raises Forbidden: unless the platform or an administrator opens it.
    :raises Conflict: unless the complaint (not a report) was decided and upheld.
    :raises Duplicate: when the complaint has a claim already.
    :raises InvalidInput: without a positive amount.
    """
    require_role(actor, _KEEPERS, "open compensation claims")
    complaint = get_complaint(writer.session, complaint_id)
    if complaint.kind != "complaint" or complaint.outcome != "upheld":
        raise Conflict(f"{complaint.kind} {complaint_id} is not an upheld complaint")
    if writer.session.scalar(select(FundClaim.id).where(FundClaim.complaint_id == complaint_id)):
        raise Duplicate(f"complaint {complaint_id} has a compensation claim already")
    amount = _positive(amount_fen if amount_fen is not None else complaint.claim_fen or 0)
    if get_subject(writer.session, platform_id).kind != "platform":
        raise InvalidInput(f"subject {platform_id} is not a platform: it has no fund")
    claim_id = new_id()
    write(writer, actor, now, apply_fund, [("credit.fund_claim_opened", fund_key(platform_id), {
        "id": claim_id, "fund_id": platform_id, "complaint_id": complaint_id,
        "consumer_id": complaint.complainant_id, "merchant_id": complaint.merchant_id,
        "amount_fen": amount,
    })])
    return get_claim(writer.session, claim_id)


def pay_claim(writer: LogWriter, actor: Actor, claim_id: str, *, now: datetime) -> FundClaim:
    """Pay the consumer from the fund now, before the merchant pays (先行赔付).

    :raises Forbidden: unless the platform or an administrator pays.
    :raises Conflict: when the claim is paid already.
    :raises InsufficientFunds: when the fund holds less than the claim.
    """
    require_role(actor, _KEEPERS, "pay compensation")
    claim = get_claim(writer.session, claim_id)
    if claim.status != "open":
        raise Conflict(f"claim {claim_id} is {claim.status}")
    available = balance(writer.session, claim.fund_id)
    if available < claim.amount_fen:
        raise InsufficientFunds(f"fund {claim.fund_id} holds {available} fen, claim {claim_id} "
                                f"needs {claim.amount_fen}")
    write(writer, actor, now, apply_fund, [("credit.fund_payout", fund_key(claim.fund_id), {
        "id": new_id(), "fund_id": claim.fund_id, "claim_id": claim_id,
        "amount_fen": claim.amount_fen, "consumer_id": claim.consumer_id,
    })])
    return claim


def recover(writer: LogWriter, actor: Actor, claim_id: str, amount_fen: int, *,
            now: datetime) -> FundClaim:
    """Record ``amount_fen`` recovered from the merchant for a paid claim (back into the fund).

    :raises Forbidden: unless the platform or an administrator records it.
    :raises Conflict: when the claim was not paid.
    :raises InvalidInput: when the amount exceeds what is still owed.
    """
    require_role(actor, _KEEPERS, "recover compensation")
    claim = get_claim(writer.session, claim_id)
    if claim.status != "paid":
        raise Conflict(f"claim {claim_id} is {claim.status}, not paid")
    owed = claim.paid_fen - claim.recovered_fen
    if _positive(amount_fen) > owed:
        raise InvalidInput(f"merchant owes {owed} fen on claim {claim_id}, not {amount_fen}")
    write(writer, actor, now, apply_fund, [("credit.fund_recovery", fund_key(claim.fund_id), {
        "id": new_id(), "fund_id": claim.fund_id, "claim_id": claim_id, "amount_fen": amount_fen,
        "merchant_id": claim.merchant_id,
    })])
    return claim


def balance(session: Session, platform_id: str) -> int:
    """Return the fund balance in fen: the sum of its movements (one index range)."""
    total = session.scalar(select(func.coalesce(func.sum(FundMovement.amount_fen), 0))
                           .where(FundMovement.fund_id == platform_id))
    return int(total or 0)


def ledger_balance(session: Session, platform_id: str) -> int:
    """Return the fund balance recomputed from the ledger entries of ``fund:<platform id>``."""
    total = 0
    for entry in entries_of(session, fund_key(platform_id)):
        sign = _SIGNS.get(entry.kind)
        if sign is not None:
            total += sign * json.loads(entry.data)["body"]["amount_fen"]
    return total
