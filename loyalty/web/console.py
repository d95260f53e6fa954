"""/console: staff sign-in and the till (find a member, redeem, record a purchase, use a voucher).

Each action is one transaction: a view parses its form, calls one domain function, commits and
redirects (POST-redirect-GET, so a reload never repeats it). A refusal rolls everything back and
shows the API's message on the page it came from.
"""
from datetime import timedelta

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for

from loyalty import auth, errors, members, redemptions, settings, staff, till
from loyalty.extensions import csrf, db, login_attempts
from loyalty.web import access
from loyalty.web import errors as page_errors
from loyalty.web.access import signed_in
from loyalty.web.forms import (CaseForm, FeedbackForm, NoteForm, PurchaseForm, RedeemForm, SignInForm, SignOutForm,
                               UseVoucherForm, new_attempt, new_order_id)

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")
page_errors.register(bp)


@bp.before_request
def check_csrf():
    """Every form that changes something carries the session's CSRF token."""
    csrf.protect()


@bp.context_processor
def layout():
    return {"sign_out_form": SignOutForm(), "staff": g.get("staff")}


def refused(error: errors.LoyaltyError, back: str):
    """Undo the request's changes and show why on the page it came from."""
    db.session.rollback()
    flash(error.message, "error")
    return redirect(back, 303)


def form_errors(form) -> str:
    return " ".join(f"{form[name].label.text}: {message}" for name, messages in form.errors.items()
                    for message in messages)


def perform(form, action, *, back: str, done, then=None):
    """Validate `form`, run `action()` (one domain call) as the request's transaction and go on to
    `then(result)` (default `back`) saying `done(result)`; a bad form or a refusal goes `back` with
    its message and changes nothing."""
    if not form.validate():
        return refused(errors.ValidationFailed(form_errors(form)), back)
    try:
        result = action()
    except errors.LoyaltyError as error:
        return refused(error, back)
    db.session.commit()
    flash(done(result), "done")
    return redirect(then(result) if then else back, 303)


# -- signing in and out ---------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@login_attempts
def login():
    form = SignInForm()
    next_page = access.safe_next(request.args.get("next"), url_for("console.till_search"))
    if request.method == "GET" and access.session_actor() is not None:
        return redirect(next_page, 303)  # signed in already
    if not form.validate_on_submit():
        status = 422 if form.is_submitted() else 200
        return render_template("login.html", form=form, next_page=next_page), status
    lifetime = timedelta(hours=current_app.config["STAFF_TOKEN_HOURS"])
    try:
        login = staff.log_in(form.email.data, form.password.data, lifetime)
    except errors.RateLimited as error:
        db.session.rollback()
        return render_template("login.html", form=form, next_page=next_page, error=error.message), 429
    db.session.commit()  # a failure too: it counts towards the lockout
    if login.refusal is not None:
        return render_template("login.html", form=form, next_page=next_page, error=login.refusal.message), 401
    access.start(login.plain)
    return redirect(next_page, 303)


@bp.route("/logout", methods=["POST"])
def logout():
    actor = access.session_actor()
    if actor is not None:
        auth.revoke_token(actor.token_id)
        db.session.commit()
    access.end()
    flash("Signed out.", "done")
    return redirect(url_for("console.login"), 303)


# -- the till -------------------------------------------------------------------------------------

@bp.route("", strict_slashes=False)
@signed_in()
def till_search():
    """Find a member: an exact member code (as a scanner types it, then Enter) opens the member."""
    text = request.args.get("member", "")
    exact, found = till.find_members(text)
    if exact is not None:
        return redirect(url_for("console.member", member_id=exact.id), 303)
    return render_template("till.html", query=text, found=found)


@bp.route("/members/<member_id>")
@signed_in()
def member(member_id):
    page = till.member_page(member_id, g.actor)
    program = settings.current().program
    currencies = sorted(program.earn_rates)
    voucher = _redemption_of(member_id, request.args.get("voucher"))
    return render_template(
        "member.html", page=page, standing=page.standing, voucher=voucher,
        redeem_form=RedeemForm(formdata=None, attempt=new_attempt()),
        purchase_form=PurchaseForm(currencies, formdata=None, order_id=new_order_id(),
                                   currency=_default_currency(program, currencies)),
        note_form=NoteForm(formdata=None), feedback_form=FeedbackForm(formdata=None),
        case_form=CaseForm(formdata=None),
    )


def _redemption_of(member_id: str, code: str | None):
    """The voucher just redeemed, to show after the redirect (only the member's own)."""
    if not code:
        return None
    try:
        redemption = redemptions.get_by_code(code)
    except errors.NotFound:
        return None
    return redemption if redemption.member_id == member_id else None


def _default_currency(program, currencies: list[str]) -> str | None:
    if program.point_value_currency in currencies:
        return program.point_value_currency
    return currencies[0] if currencies else None


@bp.route("/members/<member_id>/redeem", methods=["POST"])
@signed_in()
def redeem(member_id):
    form = RedeemForm()
    back = url_for("console.member", member_id=member_id)
    if not form.validate():
        return refused(errors.ValidationFailed(form_errors(form)), back)
    try:
        redemption = till.redeem_at_till(member_id, form.reward_id.data, g.actor, form.attempt.data)
    except errors.LoyaltyError as error:
        return refused(error, back)
    db.session.commit()
    return redirect(url_for("console.member", member_id=member_id, voucher=redemption.code), 303)


@bp.route("/members/<member_id>/purchases", methods=["POST"])
@signed_in()
def record_purchase(member_id):
    form = PurchaseForm(sorted(settings.current().program.earn_rates))
    back = url_for("console.member", member_id=member_id)
    if not form.validate():
        return refused(errors.ValidationFailed(form_errors(form)), back)
    try:
        purchase, created = till.record_in_store(member_id, form.amount.data, form.currency.data,
                                                 form.order_id.data, g.actor)
    except errors.LoyaltyError as error:
        return refused(error, back)
    db.session.commit()
    verb = "Recorded" if created else "Already recorded"
    flash(f"{verb}: order {purchase.order_id}, {purchase.points_earned:,} points"
          f"{' (pending)' if purchase.pending_points else ''}.", "done")
    return redirect(back, 303)


@bp.route("/vouchers")
@signed_in()
def voucher():
    code = request.args.get("code", "").strip()
    found, message = None, None
    if code:
        try:
            found = redemptions.get_by_code(code)
        except errors.NotFound as error:
            message = error.message
    return render_template("voucher.html", code=code, voucher=found, message=message,
                           voucher_member=found and members.get_member(found.member_id),
                           use_form=UseVoucherForm(formdata=None))


@bp.route("/vouchers/<code>/use", methods=["POST"])
@signed_in()
def use_voucher(code):
    form = UseVoucherForm()
    back = url_for("console.voucher", code=code)
    if not form.validate():
        return refused(errors.ValidationFailed(form_errors(form)), back)
    try:
        used = redemptions.use(code, g.actor, order_id=form.order_id.data or None)
    except errors.LoyaltyError as error:
        return refused(error, back)
    db.session.commit()
    flash(f"Voucher {used.code} used.", "done")
    return redirect(back, 303)
