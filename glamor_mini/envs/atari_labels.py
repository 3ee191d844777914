"""RAM labels of the paper's 14 Atari games (AtariARI annotations, Anand et al. 2019).

Each game maps label names to 0-based RAM byte indices. ``scored`` labels (the starred fields of
docs/atari.md) decide whether a goal was reached (paper §4.4); ``other`` labels are kept for
plots and debugging. A field spanning several bytes (e.g. Breakout's block bit map) becomes one
label per byte, named ``field_0, field_1, ...``. Values are raw uint8 bytes, not pixels.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GameLabels:
    scored: dict[str, int]
    other: dict[str, int]

    @property
    def names(self) -> tuple[str, ...]:
        """All label names: the scored ones first, then the others."""
        return tuple(self.scored) + tuple(self.other)

    @property
    def ram_index(self) -> tuple[int, ...]:
        return tuple(self.scored.values()) + tuple(self.other.values())

    @property
    def n_scored(self) -> int:
        return len(self.scored)


def _span(name: str, first: int, last: int) -> dict[str, int]:
    """A multi-byte field: bytes first..last (inclusive) as name_0, name_1, ..."""
    return {f"{name}_{i}": b for i, b in enumerate(range(first, last + 1))}


def _named(names: tuple[str, ...], first: int) -> dict[str, int]:
    return {n: first + i for i, n in enumerate(names)}


ATARI_LABELS: dict[str, GameLabels] = {
    "Bowling": GameLabels(
        scored=dict(player_x=29, ball_x=30, player_y=40, ball_y=41),
        other=dict(score=33, frame_number_display=36, **_span("pin_existence", 57, 66)),
    ),
    "Boxing": GameLabels(
        scored=dict(player_x=32, enemy_x=33, player_y=34, enemy_y=35),
        other=dict(clock=17, player_score=18, enemy_score=19),
    ),
    "Breakout": GameLabels(
        scored=dict(player_x=72, ball_x=99, ball_y=101),
        other=dict(**_span("block_bit_map", 0, 29), blocks_hit_count=77, score=84),
    ),
    "Frostbite": GameLabels(
        scored=dict(player_y=100, player_x=102),
        other=dict(
            player_direction=4,
            **_span("iceflow_x", 31, 34),
            **_span("score", 72, 74),
            num_lives=76,
            igloo_blocks_count=77,
            **_span("enemy_x", 84, 87),
            enemy_bear_x=104,
        ),
    ),
    "MontezumaRevenge": GameLabels(
        scored=dict(player_x=42, player_y=43),
        other=dict(
            room_number=3,
            **_span("score", 19, 21),
            key_monster_x=44,
            key_monster_y=45,
            enemy_skull_y=46,
            enemy_skull_x=47,
            player_direction=52,
            level=57,
            num_lives=58,
            items_in_inventory_count=61,
            room_state=62,
        ),
    ),
    "MsPacman": GameLabels(
        scored=dict(player_x=10, player_y=16),
        other=dict(
            **_named(("enemy_sue_x", "enemy_inky_x", "enemy_pinky_x", "enemy_blinky_x"), 6),
            fruit_x=11,
            **_named(("enemy_sue_y", "enemy_inky_y", "enemy_pinky_y", "enemy_blinky_y"), 12),
            fruit_y=17,
            ghosts_count=19,
            player_direction=56,
            dots_eaten_count=119,
            player_score=120,
            num_lives=123,
        ),
    ),
    "Pitfall": GameLabels(
        scored=dict(player_x=97, player_y=105),
        other=dict(
            bottom_of_rope_y=18,
            clock_min=88,
            clock_sec=89,
            enemy_logs_x=98,
            enemy_scorpion_x=99,
        ),
    ),
    "Pong": GameLabels(
        scored=dict(ball_x=49, enemy_y=50, player_y=51, ball_y=54),
        other=dict(enemy_score=13, player_score=14, enemy_x=45, player_x=46),
    ),
    "PrivateEye": GameLabels(
        scored=dict(player_x=63, player_y=86),
        other=dict(
            dove_y=39,
            dove_x=48,
            player_direction=58,
            clock_0=67,
            clock_1=69,
            score_0=73,
            score_1=74,
            room_number=92,
        ),
    ),
    "Qbert": GameLabels(
        scored=dict(player_x=43, player_y=67),
        other=dict(
            player_column=35,
            red_enemy_column=69,
            green_enemy_column=105,
            **_span("score", 89, 91),
        ),
    ),
    "Riverraid": GameLabels(
        scored=dict(player_x=51),
        other=dict(missile_y=50, fuel_meter_high=55, fuel_meter_low=56, missile_x=117),
    ),
    "Seaquest": GameLabels(
        scored=dict(player_x=70, player_y=97),
        other=dict(
            **_span("enemy_obstacle_x", 30, 33),
            score_0=57,
            score_1=58,
            num_lives=59,
            divers_collected_count=62,
            player_direction=86,
            oxygen_meter_value=102,
            player_missile_x=103,
        ),
    ),
    "Skiing": GameLabels(
        scored=dict(player_x=25, object_y_0=87),
        other=dict(
            **{f"object_y_{i}": 87 + i for i in range(1, 7)},
            **_span("clock", 104, 106),
            score=107,
        ),
    ),
    "Tennis": GameLabels(
        scored=dict(ball_x=16, ball_y=17, player_y=24, enemy_y=25, player_x=26, enemy_x=27),
        other=dict(player_score=69, enemy_score=70),
    ),
}

GAMES: tuple[str, ...] = tuple(ATARI_LABELS)

__all__ = ["ATARI_LABELS", "GAMES", "GameLabels"]
