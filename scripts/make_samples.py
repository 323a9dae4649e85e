"""Write the bundled sample exports in data/samples/ (deterministic: same bytes every run).

    python scripts/make_samples.py [--out data/samples]

The same people appear across files in different formats and spellings, and
some rows are invalid on purpose, so every stage of the pipeline has work to
do. data/samples/README.md describes each file and the overlaps.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import openpyxl
import xlwt

FIXED_ZIP_TIME = (2026, 11, 1, 0, 0, 0)
FIXED_DOC_TIME = dt.datetime(2026, 11, 1, 0, 0, 0)

LEGACY_HEADERS = [
    "Client ID", "E-mail", "First Name", "Last Name", "Phone", "Birthday",
    "Gender", "Country", "City", "Plan", "Groups", "Updated",
]  # fmt: skip
LEGACY_ROWS = [
    ["C-10001", "olena.kovalenko@gmail.com", "Olena", "Kovalenko", "067 123 45 67", "14.03.1988", "F", "Ukraine", "Kyiv", "gold", "Customers;VIP", "02.11.2026 10:15"],
    ["C-10002", "andriy.shevchenko@example.com", "Андрій", "Шевченко", "(050) 234-56-78", "01.07.1979", "ч", "UA", "Львів", "silver", "Customers", "03.11.2026 09:00"],
    ["C-10003", "iryna.bondar@ukr.net", "Iryna", "Bondar", "+380 67 345 6789", "22.12.1992", "Ж", "Ukraine", "Kharkiv, Saltivka", "free", "Customers", "28.10.2026 18:42"],
    ["C-10004", "  Taras.Melnyk@Gmail.COM ", "Taras", "Melnyk", "050 456 78 90", "05.05.1985", "M", "UA", "Odesa", "gold", "Customers;VIP", "01.11.2026 12:00"],
    ["C-10005", "natalia.tkachenko@example.com", "Наталія", "Ткаченко", "+380501234567", "31.02.1990", "F", "Ukraine", "Дніпро", "silver", "Customers", "30.10.2026 08:30"],
    ["C-10006", "oleksandr.lysenko@example.com", "Oleksandr", "Lysenko", "(063) 111-22-33", "17.09.1975", "M", "Ukraine", "Zaporizhzhia", "free", "", "15.09.2026 16:05"],
    ["C-10007", "kateryna.moroz@gmail.com", "Катерина", "Мороз", "097 123 45 67", "09.01.2001", "Ж", "UA", "Київ", "gold", "Customers;VIP", "04.11.2026 11:11"],
    ["C-10008", "dmytro.savchenko@example.com", "Dmytro", "Savchenko", "+380 66 123 4567", "28.02.1983", "ч", "Ukraine", "Vinnytsia", "silver", "Customers", "21.10.2026 14:20"],
    ["C-10009", "yulia.kravets@example.org", "Yulia", "Kravets", "093 123 45 67", "12.06.1995", "F", "UA", "Poltava", "free", "Customers", "19.10.2026 09:45"],
    ["C-10010", "serhiy.oliynyk@example.com", "Сергій", "Олійник", "(099) 123-45-67", "03.03.1969", "M", "Ukraine", "Chernihiv", "gold", "Customers;VIP", "05.11.2026 07:30"],
    ["C-10011", "mariya.hnatyuk@gmail.com", "Mariya", "Hnatyuk", "068 123 45 67", "25.11.1990", "Ж", "Ukraine", "Ivano-Frankivsk", "silver", "Customers", "22.10.2026 13:00"],
    ["C-10012", "bohdan.rudenko@example.com", "Bohdan", "Rudenko", "+380 67 222 3344", "30.04.1987", "M", "UA", "Sumy", "free", "", "11.10.2026 10:10"],
    ["C-10013", "oksana.pavlenko@example.com", "Оксана", "Павленко", "050 333 44 55", "07.08.1993", "F", "Ukraine", "Черкаси", "gold", "Customers;VIP", "06.11.2026 15:15"],
    ["C-10014", "viktor.zhuk@example.org", "Viktor", "Zhuk", "(067) 444-55-66", "19.02.1980", "ч", "Ukraine", "Rivne", "silver", "Customers", "18.10.2026 17:50"],
    ["C-10015", "anna.kuzmenko@gmail.com", "Anna", "Kuzmenko", "+380 93 555 6677", "11.11.1998", "F", "UA", "Lutsk", "free", "Customers", "02.11.2026 20:00"],
    ["C-10016", "", "Petro", "Honchar", "063 666 77 88", "", "M", "Ukraine", "Uzhhorod", "free", "Customers", "25.10.2026 09:05"],
    ["C-10017", "larysa.marchenko@example.com", "Лариса", "Марченко", "", "15.10.1972", "Ж", "Ukraine", "Mykolaiv", "silver", "Customers", "27.10.2026 12:40"],
    ["C-10018", "", "Roman", "Tymoshenko", "", "", "M", "UA", "Kherson", "free", "", "10.10.2026 11:00"],
    ["C-10019", "halyna.kovalchuk@example.com", "Halyna", "Kovalchuk", "097 777 88 99", "01.01.1960", "F", "Ukraine", "Ternopil", "gold", "Customers;VIP", "03.11.2026 16:30"],
    ["C-10020", "yaroslav.bilyk@example.com", "Yaroslav", "Bilyk", "(066) 888-99-00", "23.05.1991", "M", "Ukraine", "Khmelnytskyi", "silver", "Customers", "29.10.2026 19:25"],
    ["C-10021", "sofia.levchenko@gmail.com", "Софія", "Левченко", "+380 68 999 0011", "14.02.2000", "Ж", "UA", "Zhytomyr", "free", "Customers", "01.11.2026 08:00"],
    ["C-10022", "maksym.koval@example.com", "Maksym", "Koval", "099 000 11 22", "08.09.1986", "ч", "Ukraine", "Kropyvnytskyi", "gold", "Customers", "04.11.2026 10:45"],
    ["", "", "Ivan", "Nobody", "", "02.02.1990", "M", "Ukraine", "Kyiv", "free", "", "01.11.2026 09:00"],
    ["", "ivan@@mail", "Ivan", "Broken", "", "", "M", "Ukraine", "Lviv", "free", "", "01.11.2026 09:05"],
    ["", "", "Petro", "Shortphone", "12345", "", "M", "Ukraine", "Odesa", "free", "", "01.11.2026 09:10"],
]  # fmt: skip

SHOP_HEADERS = ["Email", "Телефон", "Имя", "Фамилия", "Город", "Подписка", "Дата изменения"]
SHOP_ROWS = [
    ["OLENA.KOVALENKO@GMAIL.COM", "+380671234567", "Олена", "Коваленко", "Київ", "да", "05.11.2026 14:30"],
    ["", "+380 50 234 56 78", "Андрій", "Шевченко", "Львів", "да", "04.11.2026 10:00"],
    ["taras.melnyk@gmail.com", "", "Тарас", "Мельник", "Одеса", "нет", "06.11.2026 09:15"],
    [" Kateryna.Moroz@gmail.com", "097-123-45-67", "Катерина", "Мороз", "Київ", "да", "01.11.2026 18:00"],
    ["halyna.kovalchuk@example.com", "0977778899", "Галина", "Ковальчук", "Тернопіль", "отписан", "02.11.2026 08:20"],
    ["", "(063) 666-77-88", "Петро", "Гончар", "Ужгород", "да", "30.10.2026 12:00"],
    ["viktoria.hrytsenko@example.com", "0671239876", "Вікторія", "Гриценко", "Полтава", "да", "03.11.2026 11:30"],
    ["oleh.symonenko@example.com", "0501239876", "Олег", "Симоненко", "Суми", "нет", "28.10.2026 15:45"],
    ["liudmyla.fedorenko@example.com", "", "Людмила", "Федоренко", "Черкаси", "да", "27.10.2026 10:10"],
    ["vasyl.prykhodko@example.com", "0631239876", "Василь", "Приходько", "Харків", "да", "26.10.2026 13:40"],
    ["nadiya.romanenko@example.com", "0661239876", "Надія", "Романенко", "Луцьк", "отписан", "25.10.2026 16:00"],
    ["ihor.kostenko@example.com", "0931239876", "Ігор", "Костенко", "Рівне", "да", "24.10.2026 09:30"],
    ["tetiana.bondarenko@example.com", "0991239876", "Тетяна", "Бондаренко", "Вінниця", "нет", "23.10.2026 17:20"],
    ["yevhen.shapoval@example.com", "0681239876", "Євген", "Шаповал", "Житомир", "да", "22.10.2026 14:05"],
    ["hanna.zaika@example.com", "0971239876", "Ганна", "Заїка", "Чернігів", "да", "21.10.2026 11:50"],
]  # fmt: skip

EVENT_HEADERS = [
    "Email Address", "Mobile Phone", "First name", "Last name", "Language",
    "Marketing consent", "Signed up", "Country",
]  # fmt: skip
EVENT_ROWS = [
    ["olena.kovalenko@gmail.com", 380671234567, "Olena", "Kovalenko", "uk", "Yes", dt.datetime(2026, 11, 3, 18, 0), "Ukraine"],
    ["james.whitfield@example.co.uk", 447911123456, "James", "Whitfield", "English", "Yes", dt.datetime(2026, 11, 3, 18, 5), "United Kingdom"],
    ["amelia.hart@example.co.uk", 447911123457, "Amelia", "Hart", "English", "No", dt.datetime(2026, 11, 3, 18, 7), "United Kingdom"],
    ["sofia.levchenko@gmail.com", "+380 68 999 0011", "Sofia", "Levchenko", "Ukrainian", "Yes", dt.datetime(2026, 11, 3, 18, 12), "Ukraine"],
    ["oliver.bennett@example.co.uk", "07911 123458", "Oliver", "Bennett", "English", "Yes", dt.datetime(2026, 11, 3, 18, 20), "GB"],
    ["serhiy.oliynyk@example.com", 380991234567, "Serhiy", "Oliynyk", "uk", "No", dt.datetime(2026, 11, 3, 18, 25), "Ukraine"],
    ["grace.turner@example.co.uk", 447911123459, "Grace", "Turner", "English", "Yes", dt.datetime(2026, 11, 3, 18, 31), "United Kingdom"],
    ["harry.clarke@example.co.uk", "", "Harry", "Clarke", "English", "No", dt.datetime(2026, 11, 3, 18, 40), "United Kingdom"],
    ["viktoria.hrytsenko@example.com", 380671239876, "Viktoria", "Hrytsenko", "Ukrainian", "Yes", dt.datetime(2026, 11, 3, 18, 44), "Ukraine"],
    ["emily.wright@example.co.uk", 447911123460, "Emily", "Wright", "English", "Yes", dt.datetime(2026, 11, 3, 18, 50), "United Kingdom"],
    ["jack.morgan@example.co.uk", 447911123461, "Jack", "Morgan", "English", "No", dt.date(2026, 11, 4), "United Kingdom"],
    ["chloe.evans@example.co.uk", 447911123462, "Chloe", "Evans", "English", "Yes", dt.date(2026, 11, 4), "GB"],
]  # fmt: skip

NEWSLETTER_HEADERS = ["Email", "First Name", "Last Name", "Subscribed", "Country"]
NEWSLETTER_ROWS = [
    ["iryna.bondar@ukr.net", "Iryna", "Bondar", 1, "Ukraine"],
    ["yulia.kravets@example.org", "Yulia", "Kravets", 0, "Ukraine"],
    ["amelia.hart@example.co.uk", "Amelia", "Hart", "unsubscribed", "United Kingdom"],
    ["mykola.hrytsai@example.com", "Mykola", "Hrytsai", 1, "Ukraine"],
    ["zoryana.kit@example.com", "Zoryana", "Kit", 1, "Ukraine"],
    ["thomas.reid@example.co.uk", "Thomas", "Reid", 1, "United Kingdom"],
    ["daria.vovk@example.com", "Daria", "Vovk", 0, "Ukraine"],
    ["not-an-email.example.com", "Broken", "Address", 1, "Ukraine"],
    ["lucy.hughes@example.co.uk", "Lucy", "Hughes", "unsubscribed", "United Kingdom"],
    ["pavlo.tkachuk@example.com", "Pavlo", "Tkachuk", 1, "Ukraine"],
]  # fmt: skip

APP_ID = "83b77a49-fc28-409b-aeaa-68c9d544ab9d"
# (external id, first name, last name, email or None, devices: (token suffix, model, os, locale, version))
MOBILE_CONTACTS = [
    ("C-10001", "Olena", "Kovalenko", "olena.kovalenko@gmail.com", [("a1", "iPhone 13", "iOS", "uk", "4.1.6")]),
    ("C-10002", "Andriy", "Shevchenko", None, [("b2", "Pixel 7", "Android", "uk", "4.1.6"), ("b3", "iPad Air", "iOS", "uk", "4.1.5")]),
    ("C-10004", "Taras", "Melnyk", "taras.melnyk@gmail.com", [("c4", "Galaxy S23", "Android", "uk", "4.1.6")]),
    ("C-10007", "Kateryna", "Moroz", None, [("d5", "iPhone 15", "iOS", "uk", "4.1.6")]),
    ("C-10010", "Serhiy", "Oliynyk", "serhiy.oliynyk@example.com", [("e6", "Redmi Note 12", "Android", "ru", "4.0.2")]),
    ("C-10013", "Oksana", "Pavlenko", None, [("f7", "iPhone 12", "iOS", "uk", "4.1.6")]),
    ("C-10019", "Halyna", "Kovalchuk", None, [("a8", "Galaxy A54", "Android", "uk", "3.9.0")]),
    ("C-10099", "Mobile", "Only", None, [("b9", "Pixel 8", "Android", "en", "4.1.6")]),
]  # fmt: skip


def push_token(suffix: str) -> str:
    """A fake 64-hex push token, deterministic per device."""
    return (suffix * 32)[:64].replace("a", "f").upper()


def write_legacy_crm(out: Path) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(LEGACY_HEADERS)
    writer.writerows(LEGACY_ROWS)
    (out / "legacy_crm_2026-11.csv").write_bytes(buffer.getvalue().encode("utf-8-sig"))


def write_shop_customers(out: Path) -> None:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n")
    writer.writerow(SHOP_HEADERS)
    writer.writerows(SHOP_ROWS)
    (out / "shop_customers_2026-11.txt").write_bytes(buffer.getvalue().encode("cp1251"))


def write_event_signups(out: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Attendees"
    sheet.append(EVENT_HEADERS)
    for row in EVENT_ROWS:
        sheet.append(row)
    for cell in sheet["G"][1:]:
        cell.number_format = "dd/mm/yyyy hh:mm"
    for cell in sheet["B"][1:]:
        cell.number_format = "0"  # phones typed as numbers, shown without exponent
    workbook.properties.creator = "make_samples"
    workbook.properties.created = FIXED_DOC_TIME
    workbook.properties.modified = FIXED_DOC_TIME
    buffer = io.BytesIO()
    workbook.save(buffer)
    (out / "event_signups_2026-11.xlsx").write_bytes(_fixed_time_zip(buffer.getvalue()))


def _fixed_time_zip(content: bytes) -> bytes:
    """openpyxl stamps zip members and core.xml with the current time: pin both."""
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member.filename)
            if member.filename == "docProps/core.xml":
                data = _pin_core_times(data)
            info = zipfile.ZipInfo(member.filename, date_time=FIXED_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, data)
    return output.getvalue()


def _pin_core_times(core_xml: bytes) -> bytes:
    stamp = FIXED_DOC_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    return re.sub(
        rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\2", core_xml
    )


def write_old_newsletter(out: Path) -> None:
    workbook = xlwt.Workbook(encoding="utf-8")
    sheet = workbook.add_sheet("Newsletter")
    for column, header in enumerate(NEWSLETTER_HEADERS):
        sheet.write(0, column, header)
    for row_index, row in enumerate(NEWSLETTER_ROWS, start=1):
        for column, value in enumerate(row):
            sheet.write(row_index, column, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    (out / "old_newsletter.xls").write_bytes(buffer.getvalue())


def write_mobile_tokens(out: Path) -> None:
    """Reteno's "Uploading your mobile token base" JSON shape."""
    contacts = []
    for external_id, first_name, last_name, email, devices in MOBILE_CONTACTS:
        channels = [
            {
                "type": "mobilepush",
                "value": push_token(suffix),
                "device": {
                    "appId": APP_ID,
                    "deviceModel": model,
                    "os": os_name,
                    "locale": locale,
                    "appVersion": version,
                },
            }
            for suffix, model, os_name, locale, version in devices
        ]
        if email:
            channels.append({"type": "email", "value": email})
        contacts.append(
            {
                "firstName": first_name,
                "lastName": last_name,
                "channels": channels,
                "externalCustomerId": external_id,
            }
        )
    document = {
        "contacts": contacts,
        "dedupeOn": "externalCustomerId",
        "contactFields": ["firstName", "lastName", "email", "mobilepush", "externalCustomerId"],
    }
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    (out / "mobile_tokens_2026-11.json").write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "samples"
    )
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    write_legacy_crm(out)
    write_shop_customers(out)
    write_event_signups(out)
    write_old_newsletter(out)
    write_mobile_tokens(out)
    print(f"wrote the sample exports to {out}")


if __name__ == "__main__":
    main()
