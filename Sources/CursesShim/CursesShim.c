#include "CursesShim.h"
#include <locale.h>
#include <langinfo.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <wchar.h>
#include <ncursesw/curses.h>
#include <ncursesw/term.h>

static SCREEN *screen = NULL;
static int pairs[256][257];   /* [fg][bg+1] -> pair number; 0 = unallocated */
static int next_pair = 1;

int cs_setlocale_utf8(void) {
    setlocale(LC_ALL, "");
    if (strcmp(nl_langinfo(CODESET), "UTF-8") != 0) setlocale(LC_CTYPE, "C.UTF-8");
    return strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
}

int cs_can_run_fullscreen(char *why, int n) {
    if (!isatty(0)) { snprintf(why, n, "stdin is not a terminal"); return 0; }
    if (!isatty(1)) { snprintf(why, n, "stdout is not a terminal"); return 0; }
    const char *term = getenv("TERM");
    if (!term || !*term) { snprintf(why, n, "TERM is not set"); return 0; }
    int err = 0;
    if (setupterm((char *)term, 1, &err) != OK) { snprintf(why, n, "unknown terminal type \"%s\"", term); return 0; }
    int ok = tigetstr("cup") != NULL && tigetstr("cup") != (char *)-1;
    del_curterm(cur_term);
    if (!ok) { snprintf(why, n, "terminal \"%s\" has no cursor addressing", term); return 0; }
    return 1;
}

int cs_start(void) {
    screen = newterm(NULL, stdout, stdin);
    if (!screen) return -1;
    set_term(screen);
    raw();
    noecho();
    nonl();
    keypad(stdscr, FALSE);   /* we decode escape sequences ourselves (incl. kitty) */
    set_escdelay(25);
    curs_set(0);
    if (has_colors()) { start_color(); use_default_colors(); }
    memset(pairs, 0, sizeof pairs);
    next_pair = 1;
    return 0;
}

void cs_end(void) {
    if (screen) { endwin(); delscreen(screen); screen = NULL; }
}

int cs_has_colors(void) { return has_colors(); }
int cs_colors(void) { return COLORS; }
void cs_size(int *rows, int *cols) { getmaxyx(stdscr, *rows, *cols); }

int cs_term_size(int *rows, int *cols) {
    struct winsize ws;
    if (ioctl(1, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0) return -1;
    *rows = ws.ws_row; *cols = ws.ws_col;
    return 0;
}

void cs_resize(int rows, int cols) { resizeterm(rows, cols); clearok(curscr, TRUE); }

int cs_pair(int fg, int bg) {
    if (fg < 0 && bg < 0) return 0;
    if (!has_colors()) return 0;
    if (fg >= COLORS) fg = fg % 8;
    if (bg >= COLORS) bg = bg % 8;
    int f = fg < 0 ? 0 : fg, b = bg + 1;
    if (f > 255 || b > 256) return 0;
    if (pairs[f][b] == 0) {
        if (next_pair >= COLOR_PAIRS) return 0;
        init_pair(next_pair, fg, bg);
        pairs[f][b] = next_pair++;
    }
    return pairs[f][b];
}

void cs_put(int y, int x, const char *utf8, int pair, int bold, int dim, int reverse, int underline) {
    attr_t a = A_NORMAL;
    if (bold) a |= A_BOLD;
    if (dim) a |= A_DIM;
    if (reverse) a |= A_REVERSE;
    if (underline) a |= A_UNDERLINE;
    attr_set(a, (short)pair, NULL);
    mvaddstr(y, x, utf8);
}

void cs_move_cursor(int y, int x, int visible) {
    curs_set(visible ? 1 : 0);
    if (visible) move(y, x);
}

void cs_refresh(void) { refresh(); }

int cs_get(int timeout_ms, uint32_t *out) {
    wint_t ch;
    timeout(timeout_ms);
    int r = get_wch(&ch);
    if (r == ERR) return 0;
    if (r == KEY_CODE_YES) { if (ch == KEY_RESIZE) return 2; return 0; }
    *out = (uint32_t)ch;
    return 1;
}

void cs_write_raw(const char *s) { fputs(s, stdout); fflush(stdout); }

void cs_emergency_restore(void) {
    /* leave the alternate screen, show the cursor, reset attributes, pop kitty keyboard flags */
    const char *seq = "\033[<u\033[?1049l\033[?25h\033[0m\r\n";
    ssize_t unused = write(1, seq, strlen(seq));
    (void)unused;
    if (screen) endwin();
}
