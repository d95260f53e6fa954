"""Staff notes on a member (API.md, Service: Notes): pinned or not, never shown to customers."""
from sqlalchemy import select

from loyalty.actors import Actor
from loyalty.errors import Forbidden, NotFound
from loyalty.extensions import db
from loyalty.models import Note
from loyalty.service.common import active_member, load_with_author, with_author_name

EDITOR_ROLES = ("admin", "manager")


def add_note(member_id: str, text: str, actor: Actor, *, pinned: bool = False) -> Note:
    active_member(member_id)
    note = Note(member_id=member_id, text=text, pinned=pinned, author_type=actor.type, author_id=actor.id)
    db.session.add(note)
    db.session.flush()
    return load_with_author(Note, note.id)


def edit_note(note_id: str, changes: dict, actor: Actor) -> Note:
    """Change a note's text or pin: by its author, a manager or an admin."""
    note = db.session.get(Note, note_id)
    if note is None:
        raise NotFound(f"No note {note_id}.")
    by_author = (note.author_type, note.author_id) == (actor.type, actor.id)
    if not by_author and actor.role not in EDITOR_ROLES:
        raise Forbidden("Only the note's author, a manager or an admin may change it.")
    for field, value in changes.items():
        setattr(note, field, value)
    db.session.flush()
    return load_with_author(Note, note.id)


def member_notes_query(member_id: str, *, pinned_only: bool = False):
    """The member's notes with their author's name, for a page newest first on (created_at, id)."""
    query = select(Note).where(Note.member_id == member_id).options(with_author_name(Note))
    return query.where(Note.pinned.is_(True)) if pinned_only else query


def pinned_notes(member_id: str) -> list[Note]:
    """The member's pinned notes, newest first."""
    query = member_notes_query(member_id, pinned_only=True).order_by(Note.created_at.desc(), Note.id.desc())
    return list(db.session.execute(query).scalars())
