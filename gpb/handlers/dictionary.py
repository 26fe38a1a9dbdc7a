"""The error dictionary: every code gpb shows to people, with what it means and how to fix it.

One table serves `GET /api/errors`, the eligibility rules (their severity and generic fix), the
alerts and the run reports, so a code means the same thing wherever it appears. The rules come
first, in the order of docs/design.md's rules table, which is also the order violations are
listed in.

`SECTION_WITHOUT_SIS_ID` is both a rule (a warning on the assignment) and a reason grades are left
out of a run; codes are unique, so it has one entry, of kind "rule", whose meaning says both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Severity = Literal["error", "warning"]
# rule: checked on the assignment; sync: met while talking to IC; canvas: met while reading Canvas;
# filter: why a grade was left out of a run; warning: reported by a run without failing it.
Kind = Literal["rule", "sync", "canvas", "filter", "warning"]


@dataclass(frozen=True)
class Entry:
    code: str
    kind: Kind
    severity: Severity | None  # None for filter reasons: leaving a grade out is not a failure
    title: str  # gpb's short name for the code
    meaning: str
    fix: str  # the generic fix; a rule's violation may say it more precisely

    @property
    def canvas_title(self) -> str | None:
        """The titles of Canvas's own passback error dictionary this code meets, joined."""
        return " / ".join(t.title for t in CANVAS_TITLES if self.code in t.codes) or None


ENTRIES: tuple[Entry, ...] = (
    Entry(
        "NAME_TOO_LONG",
        "rule",
        "error",
        title="Title too long",
        meaning=(
            "The assignment's title is longer than IC accepts (GPB_NAME_MAX_LENGTH characters, "
            "30 unless the district set otherwise). gpb sends the title as typed in Canvas, "
            "without its surrounding spaces, and counts it as IC stores text: an emoji counts "
            "2, and '&amp;' typed in a title is 5 characters, sent as typed."
        ),
        fix="Shorten the title in Canvas to the limit or fewer characters.",
    ),
    Entry(
        "ASSIGNMENT_UNPUBLISHED",
        "rule",
        "error",
        title="Assignment not published",
        meaning="The assignment is not published in Canvas; only published assignments go to IC.",
        fix="Publish the assignment in Canvas.",
    ),
    Entry(
        "COURSE_UNPUBLISHED",
        "rule",
        "error",
        title="Course not published",
        meaning=(
            "The course is not published in Canvas; only published courses send grades to IC. "
            "A concluded course still sends them: teachers finish grades after the term ends."
        ),
        fix="Publish the course in Canvas.",
    ),
    Entry(
        "DIFFERENTIATED",
        "rule",
        "error",
        title="Assigned to students or groups",
        meaning=(
            "The assignment is given to individual students or groups, by its own overrides or "
            "through its module. IC takes one due date per section, so an assignment must go to "
            "the whole course or whole sections. 'Everyone' in Canvas's Assign To (a course-level "
            "override) is the whole course."
        ),
        fix=(
            "Assign it to everyone or to whole sections: remove the overrides for individual "
            "students and groups."
        ),
    ),
    Entry(
        "DUE_DATE_MISSING",
        "rule",
        "error",
        title="Due date missing",
        meaning=(
            "A section with students gets no due date: the assignment has no due date for "
            "everyone and no section override that dates it for that section. IC needs a due "
            "date, which also places the assignment in an IC term."
        ),
        fix="Give every section a due date: one for everyone, or one in each section's override.",
    ),
    Entry(
        "CATEGORY_NOT_FOUND",
        "rule",
        "error",
        title="Group is not an IC category",
        meaning=(
            "The name of the assignment's group matches no grading category of the section's IC "
            "class (ignoring case and surrounding spaces, but not HTML entities: a group typed "
            "'R&amp;D' is not the category 'R&D'), so IC cannot file the assignment."
        ),
        fix="Rename the assignment group to one of the IC class's grading categories.",
    ),
    Entry(
        "NOT_GRADED",
        "rule",
        "error",
        title="Not graded",
        meaning="The assignment is set to Not Graded, so it has no scores to send to IC.",
        fix="Make the assignment graded, or stop syncing it.",
    ),
    Entry(
        "NAME_NOT_UNIQUE",
        "rule",
        "error",
        title="Title not unique",
        meaning=(
            "Another assignment of the course that is set to sync has the same title (ignoring "
            "case). IC needs unique titles; same-named assignments do not sync."
        ),
        fix="Rename one of them.",
    ),
    Entry(
        "SECTION_WITHOUT_SIS_ID",
        "rule",
        "warning",
        title="Section not linked to IC",
        meaning=(
            "A section with students has no SIS id, so no IC class is linked to it and IC cannot "
            "receive its grades. Runs leave those grades out and count them under this code."
        ),
        fix="Ask the SIS admin to link the section to its IC class.",
    ),
    Entry(
        "SECTION_CLASS_NOT_FOUND",
        "rule",
        "warning",
        title="Section's IC class missing",
        meaning="IC has no class whose id is the section's SIS id, so its grades cannot go there.",
        fix="Ask the SIS admin to check the section's link to IC.",
    ),
    Entry(
        "CATEGORY_UNVERIFIED",
        "rule",
        "warning",
        title="Not checked against IC",
        meaning=(
            "IC could not be asked just now (it is unreachable or not configured), so the IC "
            "class, its grading categories and its terms were not checked."
        ),
        fix="Nothing yet; gpb checks again on the next event or sync.",
    ),
    Entry(
        "POINTS_MISSING",
        "rule",
        "warning",
        title="Points missing",
        meaning="Points possible is empty or 0, so IC gets no scale for the scores.",
        fix="Set the points possible in Canvas.",
    ),
    Entry(
        "OMITTED_FROM_FINAL_GRADE",
        "rule",
        "warning",
        title="Not in the final grade",
        meaning=(
            "The assignment does not count toward the Canvas final grade, but it will count in IC."
        ),
        fix="Check that this is intended; if it should not count in IC either, stop syncing it.",
    ),
    Entry(
        "DUE_DATE_OUTSIDE_TERM",
        "rule",
        "warning",
        title="Due date outside the term",
        meaning=(
            "The section's due date or assign date (the available-from date, else the creation "
            "date), in the district's time zone, falls in none of the IC class's grading periods "
            "(its terms when it has none); IC uses the due date to file the assignment."
        ),
        fix="Move the dates into one of the class's IC grading periods or terms.",
    ),
    Entry(
        "SIS_AUTH_FAILED",
        "sync",
        "error",
        title="IC refused gpb",
        meaning="IC refused gpb's credentials or vendor key (HTTP 401 or 403).",
        fix=(
            "Ask the gpb admin to check GPB_SIS_CLIENT_ID, GPB_SIS_CLIENT_SECRET and "
            "GPB_SIS_VENDOR_AUTHORIZATION, then run again."
        ),
    ),
    Entry(
        "SIS_CLASS_NOT_FOUND",
        "sync",
        "error",
        title="IC class not found",
        meaning="IC has no class with the section's SIS id.",
        fix="Ask the SIS admin to check the section's link to IC, then sync again.",
    ),
    Entry(
        "SIS_CATEGORY_NOT_FOUND",
        "sync",
        "error",
        title="IC category not found",
        meaning="The class in IC has no grading category named like the assignment's group.",
        fix="Rename the assignment group to one of the class's IC categories, then sync again.",
    ),
    Entry(
        "SIS_LINEITEM_REJECTED",
        "sync",
        "error",
        title="IC refused the assignment",
        meaning="IC refused the assignment as sent (HTTP 400 or 422), often for its dates.",
        fix=(
            "Read IC's message in the run's details, correct the assignment in Canvas (due date, "
            "availability dates, title, points) and sync again."
        ),
    ),
    Entry(
        "SIS_RESULT_REJECTED",
        "sync",
        "error",
        title="IC refused a score",
        meaning="IC refused a student's score as sent (HTTP 400 or 422).",
        fix=(
            "Read IC's message in the run's details, check the score and the student's enrollment "
            "in the IC class, and sync again."
        ),
    ),
    Entry(
        "SIS_BUSY",
        "sync",
        "error",
        title="IC busy",
        meaning="IC kept answering 429 (too many requests) after every retry.",
        fix="Sync again later, outside school hours if possible; the grades stay pending.",
    ),
    Entry(
        "SIS_UNAVAILABLE",
        "sync",
        "error",
        title="IC unavailable",
        meaning=(
            "IC could not be used: server errors (5xx), timeouts or connection failures after "
            "retries, or gpb has no IC settings."
        ),
        fix=(
            "Sync again later; if it persists, ask the gpb admin to check IC's status and the "
            "GPB_SIS_* settings."
        ),
    ),
    Entry(
        "SYNC_TIMED_OUT",
        "sync",
        "error",
        title="Run timed out",
        meaning=(
            "The run went past its time budget (GPB_SYNC_TIME_BUDGET_SECONDS) and stopped as "
            "interrupted; what IC confirmed before that stays sent."
        ),
        fix="Resume the run; it skips what IC already confirmed.",
    ),
    Entry(
        "CANVAS_NOT_CONFIGURED",
        "canvas",
        "error",
        title="Canvas not configured",
        meaning=(
            "gpb has no Canvas URL or token, so it cannot read from Canvas what events do not "
            "carry (sync setting, overrides, grading type) or re-read grades for a remaster."
        ),
        fix=(
            "Ask the gpb admin to set GPB_CANVAS_BASE_URL and GPB_CANVAS_TOKEN, then replay the "
            "events recorded with this code."
        ),
    ),
    Entry(
        "CANVAS_AUTH_FAILED",
        "canvas",
        "error",
        title="Canvas refused gpb",
        meaning="Canvas refused gpb's API token (HTTP 401 or 403, not rate limiting).",
        fix=(
            "Ask the gpb admin to set GPB_CANVAS_TOKEN to a valid token of a user who can read the "
            "course, then replay the failed events."
        ),
    ),
    Entry(
        "CANVAS_UNAVAILABLE",
        "canvas",
        "error",
        title="Canvas unavailable",
        meaning=(
            "Canvas answered with server errors (5xx), timed out or kept rate-limiting gpb after "
            "retries."
        ),
        fix=(
            "Nothing unless it persists: failed events are retried with backoff, and an admin can "
            "replay them."
        ),
    ),
    Entry(
        "CANVAS_REFUSED",
        "canvas",
        "error",
        title="Canvas refused the change",
        meaning=(
            "A fix gpb asked Canvas to make was declined (a validation such as a due date outside "
            "the availability dates, or a permission); Canvas changed nothing."
        ),
        fix="Read Canvas's reason beside the fix, change what it names, and try again.",
    ),
    Entry(
        "ASSIGNMENT_INELIGIBLE",
        "filter",
        None,
        title="Assignment not eligible",
        meaning="The grade's assignment breaks a rule of severity error, so it was not sent.",
        fix="Fix the errors shown on the assignment, then sync again.",
    ),
    Entry(
        "STUDENT_WITHOUT_SIS_ID",
        "filter",
        None,
        title="Student not linked to IC",
        meaning="The student has no SIS id in Canvas, so IC cannot tell whose grade it is.",
        fix="Ask the SIS admin to link the student's Canvas account to IC.",
    ),
    Entry(
        "UNPOSTED_HELD",
        "filter",
        None,
        title="Held until posted",
        meaning=(
            "Canvas has not posted the grade (the student cannot see it yet), and gpb is set to "
            "hold such grades (GPB_UNPOSTED_GRADES=hold). It stays pending and goes to IC with "
            "the first sync after Canvas posts it."
        ),
        fix="Post the grades in Canvas's gradebook when they are ready, then sync.",
    ),
    Entry(
        "ORPHANED_IN_IC",
        "warning",
        "warning",
        title="Left in IC",
        meaning=(
            "gpb sent this assignment to IC before, but it was deleted in Canvas or is no longer "
            "set to sync. gpb leaves its IC assignments in place, as teachers may have worked on "
            "them there."
        ),
        fix="Delete the assignment in IC by hand if it should go; otherwise nothing to do.",
    ),
    Entry(
        "UNPOSTED_SENT",
        "warning",
        "warning",
        title="Hidden grades sent",
        meaning=(
            "Grades Canvas has not posted (hidden from the student) go to IC like the others, as "
            "Canvas's own passback does (GPB_UNPOSTED_GRADES=send), and IC shows them. The run "
            "says how many."
        ),
        fix=(
            "Nothing if that is intended. Otherwise post the grades in Canvas first, or ask the "
            "gpb admin to set GPB_UNPOSTED_GRADES=hold."
        ),
    ),
    Entry(
        "KEPT_ENROLLMENT_ENDED",
        "warning",
        "warning",
        title="Kept in IC: enrollment ended",
        meaning=(
            "gpb sent this student's grade to IC before, and the student has since left the "
            "section, been concluded or deactivated in Canvas (or the term is over). gpb never "
            "deletes a grade from IC because an enrollment ended: IC keeps its own records of "
            "withdrawn students. The result stays as IC holds it, and is counted."
        ),
        fix=(
            "Nothing if the student left. If the grade itself should go, remove it in IC, or "
            "restore the enrollment in Canvas, clear the grade and sync."
        ),
    ),
    Entry(
        "CHANGED_IN_IC_SINCE",
        "filter",
        None,
        title="Changed in IC since; kept",
        meaning=(
            "An undo found that IC no longer holds what the undone run wrote: someone changed "
            "the grade or assignment in IC since. The undo keeps IC's value rather than "
            "overwrite a change it did not make."
        ),
        fix="Check the grade in IC; change it there by hand if it should go back too.",
    ),
)

BY_CODE: Mapping[str, Entry] = MappingProxyType({e.code: e for e in ENTRIES})


@dataclass(frozen=True)
class CanvasTitle:
    """An error title of Canvas's Infinite Campus passback, and the gpb codes that meet it.

    Canvas's SIS Error Code Dictionary lists these titles for Infinite Campus; districts moving
    from Canvas's own passback know them, so each says which gpb codes catch the same trouble,
    most of them before a sync.
    """

    title: str
    meaning: str
    codes: tuple[str, ...]
    fix: str


CANVAS_TITLES: tuple[CanvasTitle, ...] = (
    CanvasTitle(
        "Assignment Cannot Be Created",
        "IC would not create the assignment: its group is no grading category of the class, "
        "its title is too long or not unique, or IC refused it as sent.",
        (
            "NAME_TOO_LONG",
            "NAME_NOT_UNIQUE",
            "CATEGORY_NOT_FOUND",
            "SIS_CATEGORY_NOT_FOUND",
            "SIS_LINEITEM_REJECTED",
        ),
        "Fix the rule gpb shows on the assignment (title, group), then sync again.",
    ),
    CanvasTitle(
        "Assignment Dates Error",
        "IC refused the assignment's dates: no due date, an assign date after the due date, or "
        "dates outside the class's terms or grading periods.",
        ("DUE_DATE_MISSING", "DUE_DATE_OUTSIDE_TERM", "SIS_LINEITEM_REJECTED"),
        "Give every section a due date inside the IC term, with the available-from date before "
        "it, then sync again.",
    ),
    CanvasTitle(
        "Assignment Scores Export Error",
        "The scores of an assignment could not be sent: IC was busy or out of reach.",
        ("SIS_BUSY", "SIS_UNAVAILABLE"),
        "Sync again later, off-peak if possible; the grades stay pending until IC confirms them.",
    ),
    CanvasTitle(
        "Assignment Scores Export-PUT for OneRoster Error",
        "IC refused the write (PUT) of a student's score for an assignment.",
        ("SIS_RESULT_REJECTED",),
        "Read IC's message in the run's details; check the score and the student's enrollment in "
        "the IC class, then sync again.",
    ),
    CanvasTitle(
        "Cannot Export Canvas Submission in Section",
        "A student's grade cannot go to the section's IC class: the student or the section is "
        "not linked to IC, the class is missing, the student is not in the IC class, or the "
        "assignment is given to individual students.",
        (
            "STUDENT_WITHOUT_SIS_ID",
            "SECTION_WITHOUT_SIS_ID",
            "SECTION_CLASS_NOT_FOUND",
            "DIFFERENTIATED",
            "SIS_RESULT_REJECTED",
        ),
        "Ask the SIS admin to link the student or section to IC, or assign the assignment to "
        "whole sections.",
    ),
    CanvasTitle(
        "Could Not Determine Class or Grading Period",
        "IC has no class for the section's SIS id, or the due date falls in none of the class's "
        "terms or grading periods.",
        ("SIS_CLASS_NOT_FOUND", "SECTION_CLASS_NOT_FOUND", "DUE_DATE_OUTSIDE_TERM"),
        "Ask the SIS admin to check the section's link to IC; move the due date into the term.",
    ),
    CanvasTitle(
        "Exchange Error",
        "The exchange with IC failed: IC refused the credentials or could not be reached.",
        ("SIS_AUTH_FAILED", "SIS_UNAVAILABLE"),
        "Ask the gpb admin to check the GPB_SIS_* settings and IC's status, then sync again.",
    ),
    CanvasTitle(
        "Data Sync Job Timed Out",
        "The run took longer than its time budget and stopped.",
        ("SYNC_TIMED_OUT",),
        "Resume the run; it skips what IC already confirmed.",
    ),
    CanvasTitle(
        "PUT for OneRoster Error",
        "IC refused a write (PUT) of an assignment or a score as sent.",
        ("SIS_LINEITEM_REJECTED", "SIS_RESULT_REJECTED"),
        "Read IC's message in the run's details, correct the assignment or score in Canvas, and "
        "sync again.",
    ),
    CanvasTitle(
        "Unable to Process Score",
        "IC could not take a score as sent, for instance without points possible to scale it.",
        ("SIS_RESULT_REJECTED", "POINTS_MISSING"),
        "Set the assignment's points possible and check the score, then sync again.",
    ),
)


def entry(code: str) -> Entry:
    """The entry of `code`; KeyError for a code the dictionary does not know."""
    return BY_CODE[code]
