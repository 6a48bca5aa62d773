//! Calendar invitations (RFC 5545) for bookings, made with the `icalendar` crate. Times carry
//! the applicant's IANA zone as `TZID`, so the appointment opens at the right local time in the
//! applicant's calendar, and the description repeats it in Beijing time.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, CalendarDateTime, Component, Event, EventLike};

/// What the invitation says.
pub struct Invite<'a> {
    pub uid: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub zone: Tz,
    pub summary: &'a str,
    pub description: &'a str,
    pub url: &'a str,
    pub stamp: DateTime<Utc>,
}

fn local(t: DateTime<Utc>, zone: Tz) -> CalendarDateTime {
    CalendarDateTime::WithTimezone {
        date_time: t.with_timezone(&zone).naive_local(),
        tzid: zone.name().to_owned(),
    }
}

/// The `.ics` text of one appointment.
pub fn render(invite: &Invite<'_>) -> String {
    let event = Event::new()
        .uid(&invite.uid)
        .summary(invite.summary)
        .description(invite.description)
        .url(invite.url)
        .timestamp(invite.stamp)
        .starts(local(invite.start, invite.zone))
        .ends(local(invite.end, invite.zone))
        .done();
    let mut calendar = Calendar::new();
    calendar.name("globallink").push(event);
    calendar.done().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_invite_opens_at_the_applicants_local_time() {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 30, 8, 0, 0)
            .single()
            .expect("valid");
        let text = render(&Invite {
            uid: "b1@globallink".into(),
            start,
            end: start + chrono::Duration::minutes(30),
            zone: chrono_tz::Europe::Lisbon,
            summary: "ID-card renewal",
            description: "16:00 Beijing time",
            url: "https://desk.example/join",
            stamp: start,
        });
        assert!(
            text.contains("BEGIN:VCALENDAR") && text.contains("BEGIN:VEVENT"),
            "{text}"
        );
        assert!(
            text.contains("DTSTART;TZID=Europe/Lisbon:20261130T080000"),
            "{text}"
        );
        assert!(
            text.contains("DTEND;TZID=Europe/Lisbon:20261130T083000"),
            "{text}"
        );
        // The same instant in New York in summer (UTC-4).
        let july = Utc
            .with_ymd_and_hms(2027, 7, 1, 13, 0, 0)
            .single()
            .expect("valid");
        let ny = render(&Invite {
            start: july,
            end: july,
            zone: chrono_tz::America::New_York,
            ..Invite {
                uid: "x".into(),
                start,
                end: start,
                zone: chrono_tz::UTC,
                summary: "s",
                description: "d",
                url: "u",
                stamp: start,
            }
        });
        assert!(
            ny.contains("DTSTART;TZID=America/New_York:20270701T090000"),
            "{ny}"
        );
        // The crate's own parser reads it back.
        let parsed: icalendar::Calendar = text.parse().expect("parses");
        assert_eq!(parsed.components.len(), 1);
    }
}
