# ruff: noqa: E501  (one marked-up sentence per line reads better than wrapped strings)
"""Steward's own development prose for the deep path's ensemble: news-style sentences written for
Steward (not taken from any corpus), names and places marked ``[text](TYPE)``.

Use: choosing the ensemble's merge settings together with the tuning corpus. It is development
data, not evaluation data: figures on it are never a headline. The evaluation sources
(``scripts/privacy_eval_synth.py``, ``scripts/privacy_eval_news.py``) stay untouched by tuning.
Guidelines follow docs/privacy_accuracy.md: titles outside PERSON; countries, cities, regions
and natural features are LOCATION, also when they stand for a team or a government;
nationalities, organisations and buildings are not labelled.
"""

from __future__ import annotations

import re

SENTENCES = (
    "Finance Minister [Priya Raman](PERSON) told reporters in [Chennai](LOCATION) that the budget would be delayed.",
    "Floods along the [Mekong](LOCATION) have forced thousands from their homes in southern [Laos](LOCATION).",
    "[Kenya](LOCATION) beat [Uganda](LOCATION) 2-1 in [Nairobi](LOCATION) on Saturday, with [Michael Olunga](PERSON) scoring twice.",
    "Police in [Queensland](LOCATION) say a man has been charged over the fire at a warehouse in [Townsville](LOCATION).",
    "The United Nations envoy, [Lakhdar Brahimi](PERSON), arrived in [Kabul](LOCATION) late yesterday.",
    "Opposition leader [Tanya Whitlock](PERSON) says the Government has broken its promise to rural voters.",
    "Rescue teams are searching the [Andes](LOCATION) for a light plane missing since Tuesday.",
    "[Hamid Karzai](PERSON) met tribal elders near [Kandahar](LOCATION) to discuss the ceasefire.",
    "The company's chief executive, [Sven Lindqvist](PERSON), will step down in March.",
    "Bushfires have destroyed homes west of [Sydney](LOCATION), and residents of [Penrith](LOCATION) have been told to leave.",
    "[Indonesia](LOCATION) has rejected claims by [Canberra](LOCATION) that it ignored warnings about the boat.",
    "STORMS BATTER [NEW ZEALAND](LOCATION) AS [WELLINGTON](LOCATION) CLOSES ITS PORT",
    "[Serena Williams](PERSON) defeated [Martina Hingis](PERSON) 6-3, 6-4 to reach the final in [Melbourne](LOCATION).",
    "Israeli troops moved into [Ramallah](LOCATION) on the [West Bank](LOCATION) overnight, according to Palestinian officials.",
    "Mr [Okonkwo](PERSON) said the pipeline through the [Niger Delta](LOCATION) would reopen next month.",
    "The bank's economist, Dr [Mei Ling Tan](PERSON), expects rates to stay on hold until June.",
    "A court in [Munich](LOCATION) has sentenced [Klaus Berger](PERSON) to four years for fraud.",
    "Teams: [Smith](PERSON), [Ponting](PERSON), [Warne](PERSON), [McGrath](PERSON) and [Gillespie](PERSON) are expected to play in [Perth](LOCATION).",
    "Heavy snow has cut roads across [Kashmir](LOCATION) and parts of [Himachal Pradesh](LOCATION).",
    "[Yoshiro Mori](PERSON) is under pressure to resign after a series of gaffes.",
    "Residents of [Tuvalu](LOCATION) fear rising seas in the [Pacific](LOCATION) will swamp their islands.",
    "The treasurer, [Peter Costello](PERSON), says growth will slow but [Australia](LOCATION) will avoid a recession.",
    "Aid workers in [Jalalabad](LOCATION) say food is running short as winter sets in.",
    "Former president [Alberto Fujimori](PERSON) remains in [Japan](LOCATION) despite an arrest warrant from [Lima](LOCATION).",
    "The Labor Party has chosen [Margaret Flynn](PERSON) as its candidate for the seat.",
    "An earthquake struck off the coast of [Sumatra](LOCATION) early this morning, officials in [Jakarta](LOCATION) said.",
    "[Zinedine Zidane](PERSON) scored the winner as [France](LOCATION) beat [Brazil](LOCATION).",
    "Talks between [Pakistan](LOCATION) and [India](LOCATION) on the [Siachen](LOCATION) glacier have stalled again.",
    "Chief Inspector [Ravi Naidu](PERSON) asked anyone who saw the car on Beach Road to call police.",
    "Shares in the mining giant fell after its Chilean copper mine was shut.",
    "The Prime Minister will visit [Dili](LOCATION) next week to meet [Xanana Gusmao](PERSON).",
    "[Vladimir Putin](PERSON) has told [Washington](LOCATION) that [Moscow](LOCATION) opposes the missile shield.",
    "Farmers near [Wagga Wagga](LOCATION) say the drought is the worst since 1982.",
    "The new coach, [Aleksandr Petrov](PERSON), has dropped three senior players.",
    "Volunteers cleaned oil from beaches on the [Galapagos](LOCATION) islands after the tanker ran aground.",
    "[Tasmania](LOCATION)'s premier, [Jim Bacon](PERSON), has announced a review of forestry.",
    "Fighting has spread to [Mazar-i-Sharif](LOCATION), where northern alliance forces are massing.",
    "[Nelson Mandela](PERSON) urged leaders in [Burundi](LOCATION) to sign the peace deal.",
    "QANTAS CUTS JOBS AFTER ANSETT COLLAPSE",
    "The singer [Kylie Minogue](PERSON) will perform in [London](LOCATION) and [Glasgow](LOCATION) in May.",
    "The Kenyan runner [Faith Chepngetich](PERSON) set a course record in [Boston](LOCATION).",
    "German chancellor [Olaf Brandt](PERSON) and his French counterpart met in [Strasbourg](LOCATION) on Thursday.",
    "Toyota will build a new plant near [Chonburi](LOCATION), the company said in a statement.",
    "[Nguyen Van Thanh](PERSON), a fisherman from [Hai Phong](LOCATION), was rescued after two days at sea.",
    "Shareholders of Microsoft voted against the pay deal at the meeting in [Seattle](LOCATION).",
    "The Brazilian striker [Ronaldo](PERSON) is doubtful for the match against [Argentina](LOCATION).",
    "Doctors in [Lagos](LOCATION) say cholera cases have doubled since the rains began.",
    "The minister, [Ahmed Al-Sayed](PERSON), blamed Iranian hardliners for the delay.",
    "Thousands marched through central [Manila](LOCATION) demanding the resignation of [Joseph Estrada](PERSON).",
    "An Air France flight from [Paris](LOCATION) was diverted to [Shannon](LOCATION) after a bomb threat.",
    "[Jose Ramos-Horta](PERSON) said East Timorese leaders would meet in [Darwin](LOCATION).",
    "The Reserve Bank left interest rates unchanged, Governor [Ian Macfarlane](PERSON) said.",
    "Catholic bishops in [Ireland](LOCATION) have apologised to victims of abuse.",
    "The [Danube](LOCATION) burst its banks near [Budapest](LOCATION), flooding several villages.",
    "Sri Lankan troops clashed with rebels near [Jaffna](LOCATION), the military said.",
    "[Kofi Annan](PERSON) called on both sides to return to the talks in [Geneva](LOCATION).",
    "Ford Motor Company will cut 5,000 jobs in [Michigan](LOCATION) and [Ohio](LOCATION).",
    "[Li Wei](PERSON) and [Zhang Min](PERSON) won gold in the doubles for [China](LOCATION).",
    "The Taliban's envoy in [Islamabad](LOCATION), [Abdul Salam Zaeef](PERSON), denied the reports.",
    "Honda and Nissan shares rose in [Tokyo](LOCATION) after the yen weakened.",
    "Senator [Barbara Okafor](PERSON) wants an inquiry into the sale of the airline.",
    "Mountaineers have reached the summit of [Everest](LOCATION) from the [Tibet](LOCATION) side.",
    "The Swiss bank UBS said profits fell, blaming weak markets in [Europe](LOCATION) and [Asia](LOCATION).",
    "Hundreds of asylum seekers remain on [Nauru](LOCATION), where conditions are said to be poor.",
    "[Gerhard Schroeder](PERSON) will host [Tony Blair](PERSON) in [Berlin](LOCATION) next month.",
    "Mexican police arrested [Carlos Mendoza](PERSON) in [Tijuana](LOCATION) on drug charges.",
    "The Sydney Morning Herald reported the story on its front page.",
    "Torrential rain has swept across [Bangladesh](LOCATION), leaving many villages near [Sylhet](LOCATION) under water.",
    "The Jordanian king, [Abdullah](PERSON), arrived in [Cairo](LOCATION) for the summit.",
    "Nokia, based in [Espoo](LOCATION), said it would cut prices of its phones.",
    "Coach [Wayne Bennett](PERSON) named [Darren Lockyer](PERSON) captain for the game in [Brisbane](LOCATION).",
    "Fires burned out of control in the [Blue Mountains](LOCATION) overnight.",
    "The Dalai Lama will visit [Mongolia](LOCATION) despite protests from [Beijing](LOCATION).",
    "[Aung San Suu Kyi](PERSON) remains under house arrest in [Rangoon](LOCATION).",
    "A spokeswoman for the World Health Organisation said the outbreak was contained.",
    "Mrs [Fatima Bello](PERSON) told the court she had lived in [Kano](LOCATION) for twenty years.",
    "The Finnish skier [Mika Myllyla](PERSON) has been banned for two years.",
    "Hurricane Michelle is moving towards [Cuba](LOCATION) and the [Bahamas](LOCATION).",
    "Goals from [Owen](PERSON) and [Heskey](PERSON) gave Liverpool victory at Anfield.",
    "[Sergei Ivanov](PERSON) flew to [Tashkent](LOCATION) for talks on the Afghan border.",
)

_MARK = re.compile(r"\[([^\]]+)\]\(([A-Z_]+)\)")


def parse(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    """Plain text and its ``(start, end, type)`` spans from ``[text](TYPE)`` markup."""
    text, spans, pos = "", [], 0
    for match in _MARK.finditer(marked):
        text += marked[pos : match.start()]
        start = len(text)
        text += match.group(1)
        spans.append((start, len(text), match.group(2)))
        pos = match.end()
    text += marked[pos:]
    return text, spans


def records() -> list[tuple[str, list[tuple[int, int, str]]]]:
    return [parse(s) for s in SENTENCES]
