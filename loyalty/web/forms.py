"""The console's forms (Flask-WTF: each carries its CSRF token). Labels are the contract's
accessible names (API.md, Web pages)."""
from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, HiddenField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

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
        self.currency.choices = [(code, code.upper()) for code in currencies]


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


def new_attempt() -> str:
    return new_code(16)


def new_order_id() -> str:
    """A receipt number for a till sale that has none: `till-` and 10 unambiguous characters."""
    return f"till-{new_code(10).lower()}"
