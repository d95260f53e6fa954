"""A believable demo program: a shop with a year of customers, loaded through the domain code.

Every purchase goes through the same functions as live traffic, with the clock set to the
purchase's time, so ledgers, tier histories and reports look as they would after a real year.
"""
import random
from decimal import Decimal
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select

from loyalty import (auth, campaigns, clock, customers, jobs, members, purchases, redemptions, rewards, staff,
                     tier_settings)
from loyalty.actors import Actor
from loyalty.extensions import db
from loyalty.models import Member, Reward
from loyalty.program import update_program
from loyalty.progress import Progress, silent
from loyalty.service import cases, feedback

SHOP = Actor("system")
FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Elif", "Farah", "Gus", "Hana", "Ivo", "Jun", "Kofi",
               "Lena", "Mateo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tara", "Uma",
               "Vik", "Wen", "Xavi", "Yara", "Zeno"]
LAST_NAMES = ["Silva", "Okafor", "Nguyen", "Kowalski", "Haddad", "Larsen", "Moreau", "Tanaka",
              "Rossi", "Novak", "Garcia", "Brown", "Ivanova", "Mensah", "Khan", "Becker"]


def load(members: int = 300, seed: int = 7, progress: Progress = silent) -> list[str]:
    """Load the demo (once) and create fresh demo API keys; returns lines to print, the last one
    a summary of what was done."""
    if db.session.scalar(select(func.count()).select_from(Member)):
        summary = "Demo data already loaded; left as it was, and two new demo API keys created."
    else:
        rng = random.Random(seed)
        end = clock.now()
        start = end - timedelta(days=365)
        with clock.frozen(start):
            configure_program()
            create_tiers()
            create_rewards()
            create_campaigns(start, end)
        people = enrol_members(rng, members, start, end, progress)
        desk = ServiceDesk(rng, end)
        count = simulate_purchases(rng, people, end, progress, desk)
        redeem_some(rng, people, end, progress)
        desk.play(create_staff(), progress)
        for _ in jobs.run_all():  # evaluations due by today (downgrades of lapsed members)
            pass
        summary = (f"Loaded {len(people)} members, {count} purchases, {desk.answers} survey answers "
                   f"and {desk.cases} service cases over the past year.")
    lines = demo_keys() + web_access()
    return [*lines, "", summary]


def configure_program():
    update_program({
        "name": "Corner Coffee Rewards",
        "earn_rates": {"usd": "1", "eur": "1", "gbp": "1", "jpy": "0.01"},
        "point_value_amount": 1, "point_value_currency": "usd",
        "signup_bonus": 50, "birthday_bonus": 100,
        "expiry_policy": "fixed", "expiry_days": 365,
    })


DEMO_TIERS = [
    ("bronze", "Bronze", 0, "1", ["Member prices"]),
    ("silver", "Silver", 250, "1.25", ["Free size upgrade"]),
    ("gold", "Gold", 750, "1.5", ["Free size upgrade", "Birthday drink"]),
    ("platinum", "Platinum", 1500, "2", ["Free size upgrade", "Birthday drink", "Skip the queue"]),
]


def create_tiers():
    """A four-step ladder; a short window and retention so a year shows moves both ways."""
    update_program({"tier_window_days": 120, "tier_retention_days": 60})
    for key, name, threshold, multiplier, benefits in DEMO_TIERS:
        tier_settings.create_tier({"key": key, "name": name, "min_qualifying_points": threshold,
                                   "multiplier": Decimal(multiplier), "benefits": benefits})


DEMO_REWARDS = [
    {"name": "$5 off", "cost_points": 500, "kind": "discount_amount", "value": {"amount": 500, "currency": "usd"}},
    {"name": "10% off your next order", "cost_points": 300, "kind": "discount_percent", "value": {"percent": "10"}},
    {"name": "Free pastry", "cost_points": 250, "kind": "free_item", "value": {"sku": "PASTRY-ANY"}},
    {"name": "Free bag of house beans", "cost_points": 900, "kind": "free_item", "value": {"sku": "BEANS-250G"},
     "min_tier": "gold", "stock": 40, "per_member_limit": 1},
    {"name": "Latte art class", "cost_points": 1500, "kind": "custom", "value": {}, "min_tier": "platinum",
     "stock": 12, "voucher_valid_days": 90},
]
DEMO_STAFF = [("cashier@demo.shop", "Casey Cashier", "cashier", "demo-cashier-pass"),
              ("manager@demo.shop", "Morgan Manager", "manager", "demo-manager-pass")]


def create_rewards():
    for fields in DEMO_REWARDS:
        rewards.create_reward(fields)


def create_campaigns(start, end):
    """A spring double-points fortnight with a 20% holdout, so its results can be read."""
    middle = start + (end - start) / 3
    campaigns.create_campaign({"name": "Double points fortnight", "multiplier": Decimal(2), "tier_keys": [],
                               "starts_at": middle, "ends_at": middle + timedelta(days=14),
                               "holdout_percent": 20})


def create_staff() -> dict[str, Actor]:
    """A cashier and a manager whose credentials the README gives; role -> the one acting as them."""
    made = {}
    for email, name, role, password in DEMO_STAFF:
        made[role] = Actor("staff", staff.create_staff(email, name, role, password).id, role=role)
    return made


def redeem_some(rng, people, end, progress: Progress = silent) -> None:
    """Regulars spend points now and then; most vouchers get used, a few expire unused."""
    catalogue = db.session.execute(select(Reward).order_by(Reward.cost_points)).scalars().all()
    with progress("Redeeming rewards", len(people)) as advance:
        for member, _, habit in people:
            _redeem_for(rng, member, habit, catalogue, end)
            advance(1)


def _redeem_for(rng, member, habit, catalogue, end) -> None:
    member = db.session.get(Member, member.id)
    for reward in catalogue:
        if habit == "one-off" or rng.random() < 0.5 or rewards.refusal(member, reward):
            continue
        issued_on = end - timedelta(days=rng.uniform(1, 60))
        with clock.frozen(issued_on):
            redemption = redemptions.issue(member.id, reward.id, SHOP, location="Main St")
        if rng.random() < 0.8:
            with clock.frozen(issued_on + timedelta(days=rng.uniform(0, 5))):
                redemptions.use(redemption.code, SHOP, location="Main St")


def enrol_members(rng, count, start, end, progress: Progress = silent):
    """Enrol `count` members on dates spread over the year; each gets a buying habit."""
    with progress("Enrolling members", count) as advance:
        people = []
        for number in range(1, count + 1):
            people.append(_enrol_one(rng, number, start, end))
            advance(1)
    return people


def _enrol_one(rng, number, start, end):
    """One member, enrolled on a date in the first 80% of the year, and their buying habit."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    joined = start + timedelta(seconds=rng.uniform(0, (end - start).total_seconds() * 0.8))
    with clock.frozen(joined):
        member = members.enroll({
            "external_id": f"shop-{number:05d}",
            "email": f"{first}.{last}.{number}@example.com".lower(),
            "name": f"{first} {last}",
            "birthday": date(rng.randint(1950, 2005), rng.randint(1, 12), rng.randint(1, 28)),
        }, SHOP)
    # Loyal regulars visit every few days, casual buyers every month or two; some stop coming.
    habit = rng.choices(["regular", "casual", "one-off"], weights=[2, 5, 3])[0]
    return member, joined, habit


GAP_DAYS = {"regular": (2, 12), "casual": (20, 70), "one-off": (400, 800)}


def simulate_purchases(rng, people, end, progress: Progress = silent, desk: "ServiceDesk | None" = None) -> int:
    """A year of visits in time order (so tier histories build up as they would live).

    With a desk, some visits bring a survey answer or a complaint; a customer left unhappy is
    more likely to stop coming (the story the service reports tell).
    """
    visits = []
    for member, joined, habit in people:
        moment = joined + timedelta(hours=rng.uniform(0, 72))
        quits_at = end - timedelta(days=rng.uniform(0, 200)) if rng.random() < 0.3 else end
        while moment < min(end, quits_at):
            visits.append((moment, member, habit))
            if desk is not None and desk.after_visit(member, habit, moment) == "leaves":
                break
            low, high = GAP_DAYS[habit]
            moment += timedelta(days=rng.uniform(low, high))
    visits.sort(key=lambda visit: visit[0])
    last_day = None
    with progress("Recording a year of purchases", len(visits)) as advance:
        for number, (moment, member, habit) in enumerate(visits, 1):
            if moment.date() != last_day:  # the nightly run-jobs of a live shop
                last_day = moment.date()
                with clock.frozen(datetime.combine(last_day, datetime.min.time(), tzinfo=timezone.utc)):
                    for _ in jobs.run_all():
                        pass
            _record_visit(rng, number, moment, member, habit)
            if number % 500 == 0:
                db.session.flush()
            advance(1)
    return len(visits)


def _record_visit(rng, number, moment, member, habit) -> None:
    """A purchase at `moment`, now and then partly refunded."""
    amount = rng.randint(450, 4800) if habit != "regular" else rng.randint(1500, 12000)
    with clock.frozen(moment):
        purchase, _ = purchases.record_purchase(
            member, order_id=f"demo-{number:06d}", amount=amount, currency="usd",
            occurred_at=moment, source="pos" if rng.random() < 0.6 else "api", actor=SHOP)
        if rng.random() < 0.04:
            purchases.refund_purchase(purchase.id, rng.randint(1, amount), SHOP)


class ServiceDesk:
    """Survey answers and complaints that follow visits, played after the purchases in time order.

    Most complaints are answered within the hour and settled the next day (some with a goodwill
    gift); some wait days; a few are reopened or still open. Whether a visit leaves the customer
    unhappy is decided with the visit, so that unhappy customers come back less often.
    """

    ANSWER_CHANCE = 0.12
    CASE_CHANCE = 0.04
    SUBJECTS = [("product", "Cold coffee"), ("service", "Rude at the counter"), ("delivery", "Order arrived late"),
                ("billing", "Charged twice"), ("points", "Points missing from my visit")]

    def __init__(self, rng, end):
        self.rng, self.end = rng, end
        self.steps = []  # (moment, order, what, payload)
        self.answers = self.cases = 0

    def after_visit(self, member, habit, moment) -> str:
        """Maybe an answer or a complaint after this visit; "leaves" when the customer stops coming."""
        rng, leaves = self.rng, False
        if rng.random() < self.ANSWER_CHANCE:
            happy = rng.random() < (0.85 if habit == "regular" else 0.65)
            kind = rng.choice(["csat", "nps"])
            score = (rng.choice([4, 5, 5]) if happy else rng.choice([1, 2, 3])) if kind == "csat" \
                else (rng.choice([8, 9, 10, 10]) if happy else rng.randint(2, 7))
            self._add(moment + timedelta(hours=rng.uniform(1, 30)), "answer", (member, kind, score))
            leaves = not happy and rng.random() < 0.25
        if rng.random() < self.CASE_CHANCE:
            fast = rng.random() < 0.6
            self._complaint(member, moment + timedelta(hours=rng.uniform(0.2, 20)), fast)
            leaves = leaves or rng.random() < (0.1 if fast else 0.45)
        return "leaves" if leaves else "stays"

    def _add(self, moment, what, payload) -> None:
        if moment < self.end:
            self.steps.append((moment, len(self.steps), what, payload))

    def _complaint(self, member, opened, fast) -> None:
        rng, order = self.rng, len(self.steps)
        category, subject = rng.choice(self.SUBJECTS)
        self._add(opened, "open", (order, member, category, subject, rng.random() < 0.5))
        first_reply = opened + (timedelta(minutes=rng.uniform(3, 50)) if fast else timedelta(hours=rng.uniform(6, 70)))
        self._add(first_reply, "reply", (order, "Sorry about that, we are looking into it."))
        if not fast and rng.random() < 0.2:
            return  # still open
        settled = opened + (timedelta(hours=rng.uniform(2, 40)) if fast else timedelta(days=rng.uniform(3, 12)))
        goodwill = rng.choice([0, 0, 50, 100]) if category != "points" else 0
        self._add(settled, "resolve", (order, goodwill))
        if rng.random() < 0.12:
            self._add(settled + timedelta(days=rng.uniform(1, 4)), "reopen", (order,))
            self._add(settled + timedelta(days=rng.uniform(5, 8)), "resolve", (order, 0))

    def play(self, staff_actors: dict[str, Actor], progress: Progress = silent) -> None:
        """Record every answer and case step through the service desk's domain functions."""
        cashier, manager = staff_actors["cashier"], staff_actors["manager"]
        opened = {}  # order of the open step -> case id
        with progress("Recording feedback and cases", len(self.steps)) as advance:
            for moment, _, what, payload in sorted(self.steps, key=lambda step: (step[0], step[1])):
                with clock.frozen(moment):
                    if what == "answer":
                        member, kind, score = payload
                        feedback.record_feedback(member.id, kind, score, _customer(member))
                        self.answers += 1
                    elif what == "open":
                        order, member, category, subject, at_till = payload
                        opener = cashier if at_till else _customer(member)
                        opened[order] = cases.open_case(member.id, {"subject": subject, "category": category},
                                                        opener).id
                        self.cases += 1
                    elif what == "reply":
                        cases.reply(opened[payload[0]], payload[1], manager)
                    elif what == "resolve":
                        cases.resolve(opened[payload[0]], "Sorted out with the customer.", manager,
                                      goodwill_points=payload[1])
                    else:
                        cases.reopen(opened[payload[0]], manager)
                advance(1)


def _customer(member) -> Actor:
    return Actor("customer", member.id, role="customer", member_id=member.id)


def demo_keys() -> list[str]:
    lines = ["", "API keys for trying the API (Authorization: Bearer <key>):"]
    for role in ("admin", "storefront"):
        _, plain = auth.create_api_key(f"demo {role}", role)
        lines.append(f"  {role:<10} {plain}")
    return lines


DEMO_SERVER = "http://127.0.0.1:8000"  # where the README's demo command serves the app
CARD_LINK_DAYS = 30


def web_access() -> list[str]:
    """The console's demo accounts, and a card link of the member with the most points."""
    lines = ["", f"Staff console: {DEMO_SERVER}/console (sign in as)"]
    for email, _, role, password in DEMO_STAFF:
        lines.append(f"  {role:<10} {email} / {password}")
    member = db.session.execute(
        select(Member).where(Member.status == "active").order_by(Member.points_balance.desc(), Member.id).limit(1)
    ).scalar_one_or_none()
    if member is not None:
        _, token = customers.issue_access_token(member.id, timedelta(days=CARD_LINK_DAYS))
        lines += ["", f"{member.name}'s card (the customer's page, valid {CARD_LINK_DAYS} days):",
                  f"  {DEMO_SERVER}/card/{token}"]
    return lines
