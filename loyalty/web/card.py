"""/card/{token}: the customer's card on their phone (a customer access token in the link).

Read-only, so no session and no forms. The token stays out of other sites' logs (no referrer)
and out of caches.
"""
import segno
from flask import Blueprint, render_template
from markupsafe import Markup

from loyalty import auth, till
from loyalty.errors import Unauthenticated
from loyalty.web import errors as page_errors

bp = Blueprint("card", __name__, url_prefix="/card", template_folder="templates")
page_errors.register(bp)

EXPIRED_LINK = "This card link has expired or is not valid. Open your card again from the shop's site or app."


@bp.after_request
def private(response):
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/<token>")
def card(token):
    try:
        actor = auth.authenticate(token)
    except Unauthenticated:
        actor = None
    if actor is None or actor.type != "customer":
        return page_errors.error_page(401, EXPIRED_LINK, "Card link expired")
    card = till.card(actor.member_id)
    return render_template("card.html", standing=card.standing, recent=card.recent,
                           qr=member_qr(card.standing.member.member_code))


def member_qr(code: str) -> Markup:
    """The member code as an inline SVG QR code, for the till's scanner."""
    svg = segno.make(code, error="m").svg_inline(scale=6, omitsize=True, dark="#000", light="#fff", svgclass="qr",
                                                title=f"QR code of member code {code}")
    return Markup(svg)
