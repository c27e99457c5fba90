#!/usr/bin/env python3
"""Writes the safety filter's corpus (src/message/safety.rs reads it in its tests).

evasions.tsv: one message a line, a tab, then the contact details in it separated by `|`:
the filter must flag the message and leave none of them in what it shows.
ordinary.txt: messages with no contact detail; the filter must leave them exactly as written.

Deterministic (fixed seed): run `python3 tests/data/safety/generate.py` after changing it and
commit the files it writes.
"""
import os
import random

rng = random.Random(20261207)
HERE = os.path.dirname(os.path.abspath(__file__))

NAMES = ["jane", "ravi", "maria", "tom", "aisha", "li.wei", "carlos", "priya", "sam", "olga", "kofi", "yuki"]
SURNAMES = ["doe", "kumar", "silva", "berg", "khan", "chen", "ortiz", "nair", "lee", "ivanova", "mensah", "sato"]

def handle():
    n, s = rng.choice(NAMES), rng.choice(SURNAMES)
    style = rng.randrange(6)
    if style == 0:
        return f"{n}_{s}{rng.randrange(1, 99)}"
    if style == 1:
        return f"{n}{s}"
    if style == 2:
        return f"{n}.{s}"
    if style == 3:
        return f"{n}{rng.randrange(1980, 2005)}"
    if style == 4:
        return f"the_real_{n}"
    return f"{n}-{s}-{rng.randrange(10, 99)}"

def digits(k):
    return "".join(str(rng.randrange(10)) for _ in range(k))

def phone():
    area, mid, end = str(rng.randrange(2, 10)) + digits(2), digits(3), digits(4)
    return rng.choice([
        f"{area}-{mid}-{end}", f"({area}) {mid}-{end}", f"{area}.{mid}.{end}", f"{area}{mid}{end}",
        f"+1 {area} {mid} {end}", f"+91 98{digits(3)} {digits(5)}", f"+91-98{digits(8)}",
        f"07{digits(3)} {digits(6)}", f"+44 7{digits(3)} {digits(6)}", f"{area} {mid} {end}",
        f"{area}_{mid}_{end}", f"{' '.join(area + mid + end)}", f"+49 151 {digits(8)}",
        f"{area}/{mid}/{end}", f"+{digits(2)} {digits(3)} {digits(3)} {digits(3)}",
    ])

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

def spelled():
    ds = [rng.randrange(10) for _ in range(10)]
    style = rng.randrange(5)
    if style == 0:
        return " ".join(WORDS[d] for d in ds)
    if style == 1:
        return "-".join(WORDS[d] for d in ds)
    if style == 2:  # mixed words and digits
        return " ".join(WORDS[d] if i % 2 else str(d) for i, d in enumerate(ds))
    if style == 3:  # "oh" for zero, double
        words = [("oh" if d == 0 else WORDS[d]) for d in ds[:7]]
        return " ".join(words[:3]) + " double " + WORDS[ds[7]] + " " + " ".join(words[3:])
    return ", ".join(" ".join(WORDS[d] for d in ds[i:i + 3]) for i in (0, 3, 6)) + " " + WORDS[ds[9]]

def email():
    user = handle()
    host = rng.choice(["gmail", "yahoo", "outlook", "protonmail", "hotmail", "icloud"])
    style = rng.randrange(6)
    if style == 0:
        return f"{user}@{host}.com"
    if style == 1:
        return f"{user} (at) {host} (dot) com"
    if style == 2:
        return f"{user} at {host} dot com"
    if style == 3:
        return f"{user}[at]{host}[dot]com"
    if style == 4:
        return f"{user} @ {host}.com"
    return f"{user} at {host}"

def site():
    user = rng.choice(NAMES).replace(".", "") + rng.choice(SURNAMES)
    tld = rng.choice(["com", "dev", "io", "me", "co", "design", "studio", "net", "org", "in", "co.uk", "art"])
    style = rng.randrange(6)
    if style == 0:
        return f"{user}.{tld}"
    if style == 1:
        return f"https://{user}.{tld}/portfolio"
    if style == 2:
        return f"www.{user}.{tld}"
    if style == 3:
        return f"{user} dot {tld.split('.')[0]}"
    if style == 4:
        return f"{user}[.]{tld}"
    return f"{user}.{tld}/work"

def linkedin():
    slug = f"{rng.choice(NAMES).replace('.', '-')}-{rng.choice(SURNAMES)}-{digits(3)}"
    return rng.choice([
        f"linkedin.com/in/{slug}", f"https://www.linkedin.com/in/{slug}/", f"www.linkedin.com/in/{slug}",
        f"https://linkedin.com/in/{slug}", f"lnkd.in/{digits(2)}{slug[:4]}",
    ])

PLATFORMS = ["Telegram", "telegram", "Skype", "skype", "Venmo", "venmo", "Discord", "discord", "Instagram",
             "insta", "WhatsApp", "Snapchat", "WeChat", "Viber", "LinkedIn", "Cash App", "PayPal", "Zelle",
             "gpay", "GPay", "Google Pay", "paytm", "Paytm", "PhonePe", "Revolut"]

def platform_handle():
    p = rng.choice(PLATFORMS)
    h = handle()
    if p.lower() in ("venmo", "cash app"):
        h = rng.choice([f"@{h}", f"${h.replace('.', '')}", h])
    if p.lower() == "discord":
        h = rng.choice([h, f"{h.replace('.', '').replace('-', '')}#{digits(4)}"])
    if p.lower() == "skype":
        h = rng.choice([h, f"live:{h}"])
    if p.lower() in ("gpay", "google pay", "paytm", "phonepe"):
        h = rng.choice([f"{h.replace('.', '')}@okaxis", f"{h.replace('.', '')}@ybl", f"{h.replace('.', '')}@paytm"])
    shown = h
    templates = [
        "my {p} is {h}", "{p}: {h}", "add me on {p} {h}", "{p} id {h}", "find me on {p} - {h}",
        "ping me on {p} @{h}", "{p} handle: {h}", "send it to my {p} {h} instead", "{p} {h}",
        "just message {p}: {h} and we sort it out", "my {p} username is {h}, add me",
        "{p} = {h}", "hit me up on {p} ({h})", "pay to {p} {h} and I start today",
    ]
    t = rng.choice(templates)
    if "@{h}" in t:
        shown = h.lstrip("@$")
    return t.format(p=p, h=shown), [p, shown.lstrip("@$")]

WRAPS = [
    "{x}", "hey, {x}", "{x} - easier to talk there", "ok! {x}", "before we start: {x}", "{x}, thanks",
    "Sure. {x}. Talk soon", "we can skip the fees, {x}", "{x} (faster replies)", "sorry, {x}",
]

# Written by hand, not from the templates above: phrasings the templates do not produce.
HAND_EVASIONS = [
    ("my tg is @ravi_designs", ["ravi_designs"]),
    ("skype: jane.doe.studio", ["jane.doe.studio"]),
    ("discord → kofi#0421", ["kofi#0421"]),
    ("venmo me @Maria-Silva-7 and I'll start tonight", ["Maria-Silva-7"]),
    ("cashapp $yukisato", ["$yukisato", "yukisato"]),
    ("send the deposit to sam.lee@okicici", ["sam.lee@okicici"]),
    ("upi: priya99@ybl", ["priya99@ybl"]),
    ("gpay 98450 12345", ["98450 12345"]),
    ("paytm karo 9845012345 pe", ["9845012345"]),
    ("call nine one seven, five five five, oh one nine two", ["nine one seven, five five five, oh one nine two"]),
    ("my cell: eight-eight-eight 555 one two one two", ["eight-eight-eight 555 one two one two"]),
    ("Number: 0 7 7 0 0 9 0 0 1 2 3", ["0 7 7 0 0 9 0 0 1 2 3"]),
    ("reach me on 555 dot 867 dot 5309", ["555 dot 867 dot 5309"]),
    ("+1-555-867-5309 (text only)", ["+1-555-867-5309"]),
    ("(212)555-0199", ["(212)555-0199"]),
    ("44 7700 900 123 is my uk mobile", ["44 7700 900 123"]),
    ("portfolio at https://bit.ly/3xYz9Q", ["bit.ly/3xYz9Q"]),
    ("check out mariasilva.design for my past work", ["mariasilva.design"]),
    ("my site is carlos-ortiz.dev", ["carlos-ortiz.dev"]),
    ("www.kofimensah.com has my contact form", ["www.kofimensah.com"]),
    ("google me: janedoe dot io", ["janedoe dot io"]),
    ("linkedin.com/in/priyanair", ["linkedin.com/in/priyanair"]),
    ("Find my profile on LinkedIn: olga-ivanova-ux", ["olga-ivanova-ux"]),
    ("https://www.linkedin.com/in/tom-berg/ - add me", ["linkedin.com/in/tom-berg"]),
    ("email is jane dot doe at gmail dot com", ["jane dot doe at gmail dot com", "gmail dot com"]),
    ("mail: aisha.khan(at)outlook.com", ["aisha.khan(at)outlook.com", "outlook.com"]),
    ("jane_doe [at] proton [dot] me", ["jane_doe [at] proton [dot] me", "proton [dot] me"]),
    ("whatsapp: +91 98765 43210", ["+91 98765 43210"]),
    ("WA me on 9876543210", ["9876543210"]),
    ("telegram - @olga_iv", ["olga_iv"]),
    ("add me on snap: yuki.sato22", ["yuki.sato22"]),
    ("insta @the.real.kofi", ["the.real.kofi"]),
    ("ig handle is @carlos.ortiz.art", ["carlos.ortiz.art"]),
    ("my wechat id: liwei_88", ["liwei_88"]),
    ("viber 380 67 123 4567", ["380 67 123 4567"]),
    ("zelle to 5558675309", ["5558675309"]),
    ("paypal.me/samlee", ["paypal.me/samlee", "samlee"]),
    ("send payment via PayPal to sam.lee@gmail.com", ["sam.lee@gmail.com"]),
    ("revolut @maria_s", ["maria_s"]),
    ("phonepe 9988776655", ["9988776655"]),
    ("dm me on twitter @ravikumar_dev", ["ravikumar_dev"]),
    ("call me maybe at five five five, two three four, five six seven eight", ["five five five, two three four, five six seven eight"]),
    ("text me - 555.234.5678", ["555.234.5678"]),
    ("my num is 555 234 56 78", ["555 234 56 78"]),
    ("ring 020-7946-0958 after lunch", ["020-7946-0958"]),
    ("contact me via janedoe.me", ["janedoe.me"]),
    ("see samsato.co.uk", ["samsato.co.uk"]),
    ("everything is on my blog, olgaberg.blog", ["olgaberg.blog"]),
    ("skype id live:.cid.1234abcd", ["live:.cid.1234abcd"]),
    ("discord username: aisha_k", ["aisha_k"]),
]

HAND_ORDINARY = [
    "Can you make the Telegram bot reply in under a second?",
    "I'll post the update on the milestone here on the platform.",
    "The hero image should be 2400 px wide.",
    "Reviewed 14 pages so far, 6 to go.",
    "We went from 1,800 to 2,450 monthly users.",
    "Let's keep all communication here please.",
    "The meeting on 22/11/2026 10:15 went well.",
    "Tests pass on Node 20 and Python 3.11.",
    "That will be 3 x $120 = $360.",
    "Phase one: research. Phase two: wireframes. Phase three: UI.",
    "One, two or three colour options?",
    "Deliverables: logo, business card, letterhead.",
    "The PDF is 12 pages and 3.4 MB.",
    "It's 2026, nobody uses tables for layout anymore.",
    "Call scheduled via the platform for 4:30 pm.",
    "The ZIP has 27 files in 4 folders.",
    "I'm 5 hours ahead of you (UTC+5:30).",
    "Copy is 1200 words, SEO keywords included.",
    "Order 7731 shipped yesterday.",
    "Please review before 18:00 on 05/01/2027.",
    "Page speed went from 41 to 92 on Lighthouse.",
    "The app supports iOS 16 and Android 12 and newer.",
    "Use the font at 14/20 for body text.",
    "The budget is between £1,000 and £1,500.",
    "Thanks, paid the milestone through checkout.",
    "I updated version 2.0.1 with the fixes.",
    "The shoot is on 3.4.2027 at 9:00, location TBD.",
    "Sprint 3 of 5 is done.",
    "See attached: invoice_0042.pdf",
    "Your draft is at 80%, great progress!",
]

def evasions():
    out = []
    def add(text, secrets):
        out.append(rng.choice(WRAPS).format(x=text) + "\t" + "|".join(secrets))
    for _ in range(70):
        p = phone()
        add(rng.choice(["call me on {v}", "my number is {v}", "reach me at {v}", "text {v}", "{v} is my cell",
                        "whatsapp {v}", "you can ring {v} after 6", "here: {v}", "number {v}"]).format(v=p), [p])
    for _ in range(50):
        s = spelled()
        add(rng.choice(["my digits are {v}", "{v} is my number", "call {v}", "ring me: {v}", "{v}",
                        "text me at {v}", "number is {v} ok"]).format(v=s), [s])
    for _ in range(45):
        e = email()
        add(rng.choice(["email {v}", "send the files to {v}", "my mail is {v}", "write to {v}", "{v}",
                        "drop a line at {v}"]).format(v=e), [e])
    for _ in range(45):
        s = site()
        add(rng.choice(["see my work at {v}", "portfolio: {v}", "{v} has my rates", "check {v}",
                        "my site {v}", "all my samples are on {v}", "book me via {v}"]).format(v=s), [s])
    for _ in range(30):
        link = linkedin()
        add(rng.choice(["my linkedin: {v}", "{v}", "connect with me at {v}", "here is my profile {v}",
                        "find me on {v}"]).format(v=link), [link])
    for _ in range(110):
        text, secrets = platform_handle()
        add(text, secrets)
    for p in ["gpay", "paytm", "GPay", "Paytm", "google pay", "PhonePe", "venmo", "zelle", "cash app", "paypal"]:
        for t in ["can you {p} me the advance?", "I prefer {p}", "pay through {p} and skip the fee",
                  "send it on {p}"]:
            add(t.format(p=p), [p])
    out.extend(f"{text}\t{'|'.join(secrets)}" for text, secrets in HAND_EVASIONS)
    rng.shuffle(out)
    return out

ORDINARY = [
    "Hi! I can start on Monday; the first milestone takes 5 days.",
    "The budget is $1500 for the three pages.",
    "Budget is $1,200-1,500 depending on revisions.",
    "I charge 2500 INR per hour for design work.",
    "Can we meet the deadline of 15/03/2026 14:30?",
    "Delivery by 2026-12-01, two revisions included.",
    "The call is on 03/04/2027 at 10:00, does that work?",
    "Version 1.2.3 of the app fixed the crash.",
    "Order #4821 is ready for review.",
    "I worked at that agency 2019-2024.",
    "The logo file is logo.ai and the mockup is home.psd.",
    "I'll send the README.md and main.py later today.",
    "Resolution should be 1920x1080 at 60 fps.",
    "We need 4 banners, 12 icons and 1 video.",
    "Sizes 8, 10, 12 and 14 please.",
    "The room is 12 by 14 feet, about 168 sq ft.",
    "Meeting moved to 9:30 tomorrow.",
    "It took me 3 hours to fix the layout.",
    "Thanks! Looking forward to working with you.",
    "Can you share the brand colours? Hex #1A2B3C and #FFFFFF maybe.",
    "I use Node.js and Vue.js for the front end.",
    "The backend is ASP.NET with a SQL Server database.",
    "Real-time updates go through Socket.IO.",
    "e.g. the hero section and i.e. the header.",
    "I'll deliver on 01.02.2026 at 18:00.",
    "Price range £300 to £450.",
    "The package weighs 2.5 kg.",
    "Let me know if one or two revisions are enough.",
    "Step one, two and three are done.",
    "I can do it for 250 dollars.",
    "My availability: Mon-Fri 9:00-17:00.",
    "Invoice 2026-0042 was paid.",
    "Great work.Thanks a lot!",
    "Done.Me and my team will review it.",
    "The file is 4.7 MB, I'll compress it.",
    "Oh no, I forgot the footer. One moment.",
    "Let's schedule a call through the platform's video chat.",
    "I attached three options for the logo.",
    "Can we add a contact form to the site?",
    "Please use the blue from the style guide.",
    "Your website loads in 2.3 s on mobile, we can do better.",
    "I need the copy by Friday at 5 pm.",
    "The API returns 200 OK and a JSON body.",
    "Temperature should stay between 18 and 22 degrees.",
    "That's about 30% cheaper than last time.",
    "Rates: $40/hr or $300 per day.",
    "Booked for 12/12/2026 09:15, see you then.",
    "Use 16px body text and 1.5 line height.",
    "We had 1,250 visitors last week.",
    "The milestone is 50% upfront and 50% on delivery.",
]

SUBJECTS = ["logo", "landing page", "mobile app", "flyer", "product photos", "blog post", "data report",
            "brochure", "menu design", "website copy", "pitch deck", "video edit", "podcast intro"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend", "next week"]

def ordinary():
    out = list(ORDINARY) + HAND_ORDINARY
    templates = [
        "The {s} is almost done, I'll share a draft on {d}.",
        "Could you add {n} more variations of the {s}?",
        "Budget for the {s} is ${m}, is that okay?",
        "I can finish the {s} by {date} {time}.",
        "Thanks for the feedback on the {s}! Changes coming {d}.",
        "How many revisions do you need for the {s}? I included {n}.",
        "The {s} will take about {n} days.",
        "Deadline for the {s}: {date}.",
        "I uploaded version {n}.{n2} of the {s}.",
        "Can we move the {s} review to {time} on {d}?",
        "I'd charge {m} EUR for the {s}.",
        "Quick question about the {s}: should it be {n} or {n2} columns?",
        "Great, the {s} looks good. Please mark milestone {n} complete.",
        "Between {y1}-{y2} I did {n} similar projects like this {s}.",
        "Attached the {s} as {f}.",
    ]
    for _ in range(260):
        date = rng.choice([
            f"{rng.randrange(1, 29):02d}/{rng.randrange(1, 13):02d}/2026",
            f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
            f"{rng.randrange(1, 29)}.{rng.randrange(1, 13)}.2027",
        ])
        out.append(rng.choice(templates).format(
            s=rng.choice(SUBJECTS), d=rng.choice(DAYS), n=rng.randrange(2, 9), n2=rng.randrange(0, 10),
            m=rng.choice(["150", "480", "1,200", "2500", "3,750.50"]), date=date,
            time=f"{rng.randrange(7, 20)}:{rng.choice(['00', '15', '30', '45'])}",
            y1=rng.randrange(2010, 2018), y2=rng.randrange(2019, 2026),
            f=rng.choice(["final.pdf", "draft_v2.docx", "logo.svg", "cover.png", "deck.pptx", "brief.md"]),
        ))
    return out

with open(os.path.join(HERE, "evasions.tsv"), "w") as f:
    f.write("\n".join(evasions()) + "\n")
with open(os.path.join(HERE, "ordinary.txt"), "w") as f:
    f.write("\n".join(ordinary()) + "\n")
