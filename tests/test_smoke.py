def test_enrol_and_earn(client, admin, program, enroll):
    """Does a purchase of $12.34 earn 12 points and show in the balance?"""
    member = enroll()
    response = client.post("/v1/purchases", headers=admin, json={
        "member_id": member["id"], "order_id": "o-1", "amount": 1234, "currency": "USD"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["points_earned"] == 12
    balance = client.get(f"/v1/members/{member['id']}", headers=admin).get_json()["points"]
    assert balance == {"balance": 12, "pending": 0}
