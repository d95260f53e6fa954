"""Fill a fresh database with work due for run-jobs (the `seeded` fixture runs this as a script)."""
from datetime import date, timedelta
from loyalty import clock, create_app, members, purchases, redemptions, rewards
from loyalty.actors import SYSTEM
from loyalty.extensions import db
from loyalty.program import update_program

app = create_app()
with app.app_context():
    now = clock.now()
    with clock.frozen(now - timedelta(days=400)):
        update_program({"earn_rates": {"usd": "1"}, "birthday_bonus": 10})
        for n in range(10):
            member = members.enroll({"external_id": f"old{n}"}, SYSTEM)
            purchases.record_purchase(member, order_id=f"old{n}", amount=5000, currency="usd",
                                      occurred_at=None, source="api", actor=SYSTEM)
    with clock.frozen(now - timedelta(days=40)):
        update_program({"pending_days": 14})
        reward = rewards.create_reward({"name": "Tea", "cost_points": 20, "kind": "custom", "value": {},
                                        "voucher_valid_days": 30, "stock": 50})
        for n in range(10):
            redemptions.issue(members.find_by_external_id(f"old{n}").id, reward.id, SYSTEM)
    with clock.frozen(now - timedelta(days=20)):
        for n in range(10):
            member = members.enroll({"external_id": f"new{n}", "birthday": date(1990, now.month, 1)}, SYSTEM)
            purchases.record_purchase(member, order_id=f"new{n}", amount=3000, currency="usd",
                                      occurred_at=None, source="api", actor=SYSTEM)
    update_program({"expiry_policy": "inactivity", "expiry_days": 365})
    db.session.commit()
