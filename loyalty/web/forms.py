"""The console's forms (Flask-WTF: each carries its CSRF token). Labels are the contract's
accessible names (API.md, Web pages)."""
from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, EmailField, HiddenField, IntegerField, PasswordField, SelectField,
                     StringField, SubmitField, TextAreaField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from loyalty.ids import new_code


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])
    submit = SubmitField("Sign in")


class SignOutForm(FlaskForm):
    submit = SubmitField("Sign out")


class RedeemForm(FlaskForm):
    reward_id = HiddenField(validators=[DataRequired()])
    # One per rendered form: a second submission of the same form (a double click, a resent
    # request) finds the first one's outcome instead of redeeming again.
    attempt = HiddenField(validators=[DataRequired(), Length(max=64)])
    submit = SubmitField("Redeem")


class PurchaseForm(FlaskForm):
    amount = StringField("Amount", validators=[DataRequired(), Length(max=30)],
                         render_kw={"inputmode": "decimal", "autocomplete": "off"})
    currency = SelectField("Currency", validators=[DataRequired()])
    order_id = StringField("Order id", validators=[DataRequired(), Length(max=255)],
                           render_kw={"autocomplete": "off"})
    submit = SubmitField("Record purchase")

    def __init__(self, currencies: list[str], **kwargs):
        super().__init__(**kwargs)
        self.currency.choices = [SelectChoice(code, code.upper()) for code in currencies]


class UseVoucherForm(FlaskForm):
    order_id = StringField("Order id", validators=[Optional(), Length(max=255)],
                           render_kw={"autocomplete": "off"})
    submit = SubmitField("Use")


class PeriodForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form: it only chooses what to show

    from_ = DateField("From", validators=[DataRequired()], name="from")
    to = DateField("To", validators=[DataRequired()])
    submit = SubmitField("Show")


# -- service: notes, feedback, cases ----------------------------------------------------------------

CATEGORIES = [SelectChoice(key, key.capitalize())
              for key in ("product", "service", "delivery", "billing", "points", "other")]


class NoteForm(FlaskForm):
    text = TextAreaField("Note", validators=[DataRequired(), Length(max=2000)])
    pinned = BooleanField("Pin to the member's overview")
    submit = SubmitField("Add note")


class FeedbackForm(FlaskForm):
    kind = SelectField("Kind", choices=[SelectChoice("csat", "Satisfaction (CSAT, 1 to 5)"),
                                        SelectChoice("nps", "Recommendation (NPS, 0 to 10)")])
    score = IntegerField("Score", validators=[InputRequired(), NumberRange(0, 10)])
    comment = TextAreaField("Comment", validators=[Optional(), Length(max=2000)])
    submit = SubmitField("Record feedback")

    def validate_score(self, field):
        if self.kind.data == "csat" and not 1 <= (field.data or 0) <= 5:
            raise ValidationError("A CSAT score is from 1 to 5.")


class CaseForm(FlaskForm):
    subject = StringField("Subject", validators=[DataRequired(), Length(max=200)])
    category = SelectField("Category", choices=CATEGORIES)
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)])
    submit = SubmitField("Open case")


class ReplyForm(FlaskForm):
    text = TextAreaField("Reply", validators=[DataRequired(), Length(max=5000)])
    submit = SubmitField("Send reply")


class ResolveForm(FlaskForm):
    resolution = TextAreaField("Resolution", validators=[DataRequired(), Length(max=2000)])
    goodwill_points = IntegerField("Goodwill points", default=0, validators=[Optional(), NumberRange(min=0)])
    submit = SubmitField("Resolve")


class ReopenForm(FlaskForm):
    submit = SubmitField("Reopen")


class AssignForm(FlaskForm):
    # Any id is passed on: the domain refuses one that is not an active staff member's.
    assignee_id = SelectField("Assignee", validate_choice=False)
    submit = SubmitField("Assign")


def new_attempt() -> str:
    return new_code(16)


def new_order_id() -> str:
    """A receipt number for a till sale that has none: `till-` and 10 unambiguous characters."""
    return f"till-{new_code(10).lower()}"
