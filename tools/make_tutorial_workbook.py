"""Write the tutorial's made-up clinic workbook, mappings/tutorial/clinic.xlsx.

The workbook is fictitious: six patients with metastatic angiosarcoma on
pazopanib, kept the way a clinic keeps a spreadsheet (one sheet per table,
headers such as "Study No." and "Dose (mg)", DD/MM/YYYY text dates with "UN"
for an unknown day or month, "ongoing" in stop-date cells, grades written
"G2", sex written female/Female/F/M/Male). Scan dates are real Excel date
cells, the other dates are text, as both happen in practice.

Run it only to change the data; the workbook it writes is committed so that
the tutorial reads the same bytes on every machine.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from openpyxl import Workbook

OUT = Path(__file__).resolve().parent.parent / "mappings" / "tutorial" / "clinic.xlsx"

PATIENTS = (
    ["Study No.", "Sex", "Date of birth", "Consent date", "Primary site"],
    ["1", "female", "14/02/1956", "28/03/2019", "Scalp"],
    ["2", "Female", "UN/07/1949", "10/06/2019", "Breast"],
    ["3", "M", "02/11/1962", "26/08/2019", "Heart"],
    ["4", "Male", "UN/UN/1958", "07/10/2019", "Scalp"],
    ["5", "F", "23/05/1971", "04/11/2019", "Liver"],
    ["6", "female", "30/09/1944", "13/01/2020", "Breast"],
)

TREATMENT = (
    ["Study No.", "Drug", "Dose (mg)", "Start", "Stop", "Reason stopped"],
    ["1", "Pazopanib", 800, "03/04/2019", "20/11/2019", "Progression"],
    ["2", "Pazopanib", 800, "17/06/2019", "31/07/2019", "Dose reduced"],
    ["2", "Pazopanib", 600, "01/08/2019", "ongoing", None],
    ["3", "Pazopanib", 800, "02/09/2019", "15/12/2019", "Progression"],
    ["4", "Pazopanib", 800, "14/10/2019", "Ongoing", None],
    ["5", "Pazopanib", 800, "11/11/2019", "02/03/2020", "Toxicity"],
    ["6", "Pazopanib", 800, "20/01/2020", "16/03/2020", "Progression"],
)

TOXICITY = (
    ["Study No.", "Toxicity", "Grade", "Onset", "Resolved", "Serious?", "Hospitalised"],
    ["1", "Hypertension", "G2", "24/04/2019", "20/11/2019", "No", None],
    ["1", "Diarrhea", "G1", "15/05/2019", "02/06/2019", "No", None],
    ["2", "Fatigue", "G2", "01/07/2019", "ongoing", "No", None],
    ["2", "Hair color changes", "G1", "12/08/2019", "ongoing", "No", None],
    ["3", "Alanine aminotransferase increased", "G3", "30/09/2019", "21/10/2019", "Yes", "Yes"],
    ["4", "Hypertension", "G1", "04/11/2019", "ongoing", "No", None],
    ["5", "Nausea", "G1", "20/11/2019", "05/12/2019", "No", None],
    ["5", "Hypertension", "G3", "02/03/2020", "16/03/2020", "Yes", "Yes"],
    ["6", "Fatigue", "G1", "01/02/2020", "16/03/2020", "No", None],
)


def _d(day: int, month: int, year: int) -> dt.datetime:
    return dt.datetime(year, month, day)


# Target lesions only, longest diameter in cm as the radiologist wrote it.
LESIONS = (
    ["Study No.", "Scan date", "Lesion", "Site", "Diameter (cm)"],
    ["1", _d(25, 3, 2019), "T1", "Lung", 3.2], ["1", _d(25, 3, 2019), "T2", "Liver", 2.5],
    ["1", _d(29, 5, 2019), "T1", "Lung", 2.1], ["1", _d(29, 5, 2019), "T2", "Liver", 1.6],
    ["1", _d(31, 7, 2019), "T1", "Lung", 2.0], ["1", _d(31, 7, 2019), "T2", "Liver", 1.5],
    ["1", _d(16, 10, 2019), "T1", "Lung", 2.4], ["1", _d(16, 10, 2019), "T2", "Liver", 1.9],
    ["2", _d(12, 6, 2019), "T1", "Breast", 4.0],
    ["2", _d(14, 8, 2019), "T1", "Breast", 3.8],
    ["2", _d(16, 10, 2019), "T1", "Breast", 3.7],
    ["2", _d(18, 12, 2019), "T1", "Breast", 3.9],
    ["2", _d(19, 2, 2020), "T1", "Breast", 3.6],
    ["3", _d(28, 8, 2019), "T1", "Heart", 5.0],
    ["3", _d(30, 10, 2019), "T1", "Heart", 5.5],
    ["3", _d(11, 12, 2019), "T1", "Heart", 5.6],
    ["4", _d(9, 10, 2019), "T1", "Scalp", 3.0], ["4", _d(9, 10, 2019), "T2", "Lymph node", 2.0],
    ["4", _d(11, 12, 2019), "T1", "Scalp", 1.8], ["4", _d(11, 12, 2019), "T2", "Lymph node", 1.2],
    ["4", _d(12, 2, 2020), "T1", "Scalp", 1.5], ["4", _d(12, 2, 2020), "T2", "Lymph node", 1.0],
    ["4", _d(15, 4, 2020), "T1", "Scalp", 1.5], ["4", _d(15, 4, 2020), "T2", "Lymph node", 1.0],
    ["5", _d(7, 11, 2019), "T1", "Liver", 6.0],
    ["5", _d(8, 1, 2020), "T1", "Liver", 5.6],
    ["5", _d(4, 3, 2020), "T1", "Liver", 5.4],
    ["6", _d(15, 1, 2020), "T1", "Breast", 4.5],
    ["6", _d(16, 3, 2020), "T1", "Breast", 6.0],
)

# The overall response the clinic recorded at each scan after baseline; no best response.
RESPONSE = (
    ["Study No.", "Scan date", "Overall response", "New lesion"],
    ["1", _d(29, 5, 2019), "PR", "No"], ["1", _d(31, 7, 2019), "PR", "No"],
    ["1", _d(16, 10, 2019), "PD", "No"],
    ["2", _d(14, 8, 2019), "SD", "No"], ["2", _d(16, 10, 2019), "SD", "No"],
    ["2", _d(18, 12, 2019), "SD", "No"], ["2", _d(19, 2, 2020), "SD", "No"],
    ["3", _d(30, 10, 2019), "SD", "No"], ["3", _d(11, 12, 2019), "PD", "Yes"],
    ["4", _d(11, 12, 2019), "PR", "No"], ["4", _d(12, 2, 2020), "PR", "No"],
    ["4", _d(15, 4, 2020), "PR", "No"],
    ["5", _d(8, 1, 2020), "SD", "No"], ["5", _d(4, 3, 2020), "SD", "No"],
    ["6", _d(16, 3, 2020), "PD", "No"],
)

FOLLOW_UP = (
    ["Study No.", "Last contact", "Date of death"],
    ["1", "15/06/2020", "15/06/2020"],
    ["2", "31/01/2021", None],
    ["3", "10/05/2020", "10/05/2020"],
    ["4", "25/01/2021", None],
    ["5", "20/09/2020", "20/09/2020"],
    ["6", "02/06/2020", "02/06/2020"],
)

SHEETS = {"Patients": PATIENTS, "Treatment": TREATMENT, "Toxicity": TOXICITY,
          "Lesions": LESIONS, "Response": RESPONSE, "Follow-up": FOLLOW_UP}


def build(path: Path = OUT) -> Path:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in SHEETS.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cell in sheet["B"] if title in ("Lesions", "Response") else ():
            if isinstance(cell.value, dt.datetime):
                cell.number_format = "DD/MM/YYYY"
    # fixed document dates: the file's bytes should not say when it was rebuilt
    workbook.properties.created = workbook.properties.modified = dt.datetime(2021, 2, 1)
    workbook.save(path)
    return path


if __name__ == "__main__":
    sys.stdout.write(f"{build()}\n")
