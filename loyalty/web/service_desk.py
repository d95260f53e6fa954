"""The service part of the console: notes, feedback and cases on the member's page, and the
service desk (/console/cases): the open cases, oldest first, each opened to reply, assign, resolve."""
from flask import g, render_template, url_for
from wtforms.fields.choices import SelectChoice

from loyalty import settings
from loyalty.service import cases, desk, feedback, notes
from loyalty.web.access import signed_in
from loyalty.web.console import bp, perform
from loyalty.web.forms import AssignForm, CaseForm, FeedbackForm, NoteForm, ReopenForm, ReplyForm, ResolveForm


def _member_page(member_id: str) -> str:
    return url_for("console.member", member_id=member_id)


def _case_page(case_id: str) -> str:
    return url_for("console.case", case_id=case_id)


@bp.route("/members/<member_id>/notes", methods=["POST"])
@signed_in()
def add_note(member_id):
    form = NoteForm()
    return perform(form, lambda: notes.add_note(member_id, form.text.data.strip(), g.actor, pinned=form.pinned.data),
                   back=_member_page(member_id), done=lambda note: "Note added.")


@bp.route("/members/<member_id>/feedback", methods=["POST"])
@signed_in()
def record_feedback(member_id):
    form = FeedbackForm()
    return perform(form, lambda: feedback.record_feedback(member_id, form.kind.data, form.score.data, g.actor,
                                                         comment=form.comment.data or None),
                   back=_member_page(member_id),
                   done=lambda answer: f"Feedback recorded: {answer.kind.upper()} {answer.score} ({answer.band}).")


@bp.route("/members/<member_id>/cases", methods=["POST"])
@signed_in()
def open_case(member_id):
    form = CaseForm()
    fields = {"subject": (form.subject.data or "").strip(), "category": form.category.data,
              "description": form.description.data or None}
    return perform(form, lambda: cases.open_case(member_id, fields, g.actor), back=_member_page(member_id),
                   done=lambda case: f"Case opened: {case.subject}.", then=lambda case: _case_page(case.id))


@bp.route("/cases")
@signed_in()
def cases_queue():
    return render_template("cases.html", queue=desk.open_queue())


@bp.route("/cases/<case_id>")
@signed_in()
def case(case_id):
    page = desk.case_page(case_id)
    assign_form = AssignForm(formdata=None, assignee_id=page.case.assignee_id or "")
    assign_form.assignee_id.choices = [SelectChoice("", "Nobody")] + [
        SelectChoice(person.id, f"{person.name} ({person.role})") for person in page.staff]
    return render_template("case.html", case=page.case, member=page.member, replies=page.replies,
                           assignee=page.assignee, reply_form=ReplyForm(formdata=None),
                           resolve_form=ResolveForm(formdata=None), reopen_form=ReopenForm(formdata=None),
                           assign_form=assign_form,
                           goodwill_limit=settings.current().program.goodwill_limit)


@bp.route("/cases/<case_id>/replies", methods=["POST"])
@signed_in()
def reply_case(case_id):
    form = ReplyForm()
    return perform(form, lambda: cases.reply(case_id, form.text.data.strip(), g.actor), back=_case_page(case_id),
                   done=lambda reply: "Reply sent.")


@bp.route("/cases/<case_id>/resolve", methods=["POST"])
@signed_in()
def resolve_case(case_id):
    form = ResolveForm()
    return perform(form, lambda: cases.resolve(case_id, form.resolution.data.strip(), g.actor,
                                               goodwill_points=form.goodwill_points.data or 0),
                   back=_case_page(case_id),
                   done=lambda case: "Case resolved" + (f", {case.goodwill_points:,} goodwill points given."
                                                        if case.goodwill_points else "."))


@bp.route("/cases/<case_id>/reopen", methods=["POST"])
@signed_in()
def reopen_case(case_id):
    return perform(ReopenForm(), lambda: cases.reopen(case_id, g.actor), back=_case_page(case_id),
                   done=lambda case: "Case reopened.")


@bp.route("/cases/<case_id>/assign", methods=["POST"])
@signed_in("manager")
def assign_case(case_id):
    form = AssignForm()
    return perform(form, lambda: cases.assign(case_id, form.assignee_id.data or None), back=_case_page(case_id),
                   done=lambda case: "Case assigned." if case.assignee_id else "Case unassigned.")
